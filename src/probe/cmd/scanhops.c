/* exitprobe — first-hop state across rounds (see scanhops.h). */
#include "config.h"

#include "probe/cmd/scanhops.h"

#include <stdlib.h>
#include <string.h>

#include "lib/caps.h"
#include "lib/log.h"
#include "probe/dirclient/cache.h"

#define HOPHIST_NAME "first-hops"

void ep_scanhops_load(ep_scanhops_t *sh, const ep_scandir_opts_t *dir) {
  memset(sh, 0, sizeof *sh);
  ep_hophist_init(&sh->hist);
  ep_cbt_init(&sh->cbt);
  sh->persist = !dir->no_cache;
  sh->cache_dir = dir->cache_dir;
  if (!sh->persist) {
    return;
  }
  ep_err_t err = {0};
  ep_cache_t *c = ep_cache_open(sh->cache_dir, &err);
  uint8_t *text = NULL;
  size_t len = 0;
  int rc = c != NULL ? ep_cache_read(c, HOPHIST_NAME, EP_CAP_HOPHIST_FILE, &text, &len, &err)
                     : err.code;
  if (rc == EP_OK && ep_hophist_parse(&sh->hist, text, len, &err) != EP_OK) {
    rc = err.code;
  }
  if (rc != EP_OK && rc != EP_CACHE_MISS) {
    ep_warn("scan: first-hop history: %s (starting without)", err.msg);
    ep_hophist_free(&sh->hist);
  } else if (sh->hist.bad_lines > 0) {
    ep_warn("scan: first-hop history: %zu bad lines skipped", sh->hist.bad_lines);
  }
  free(text);
  ep_cache_free(c);
}

void ep_scanhops_save(ep_scanhops_t *sh) {
  if (!sh->persist) {
    return;
  }
  char *text = NULL;
  size_t len = 0;
  FILE *f = open_memstream(&text, &len);
  ep_err_t err = {0};
  ep_cache_t *c = f != NULL ? ep_cache_open(sh->cache_dir, &err) : NULL;
  int rc = c != NULL ? ep_hophist_write(&sh->hist, f) : EP_ERR_IO;
  if (f != NULL && fclose(f) != 0) {
    rc = EP_ERR_IO;
  }
  if (rc == EP_OK) {
    rc = ep_cache_write_hint(c, HOPHIST_NAME, text, len, &err);
  }
  if (rc != EP_OK) {
    ep_warn("scan: cannot save the first-hop history: %s", err.msg[0] ? err.msg : "out of memory");
  }
  free(text);
  ep_cache_free(c);
}

void ep_scanhops_free(ep_scanhops_t *sh) { ep_hophist_free(&sh->hist); }
