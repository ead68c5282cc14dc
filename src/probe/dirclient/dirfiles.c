/* exitprobe — the directory client offline: documents from files (and the
 * cache's certificates), verified and joined as fetched ones are (see
 * dirclient.h's ep_dirclient_load_files). */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lib/buf.h"
#include "lib/caps.h"
#include "lib/file.h"
#include "lib/log.h"
#include "lib/timeutil.h"
#include "probe/dirclient/dirclient_int.h"
#include "probe/dirclient/dirjoin.h"
#include "probe/dirclient/inflate.h"

/* Read a whole file, at most cap bytes (lib/file.h); zlib/gzip data is
 * inflated. */
static int read_doc_file(const char *path, size_t cap, uint8_t **out, size_t *len, ep_err_t *err) {
  uint8_t *raw;
  size_t n;
  int rc = ep_file_read(path, cap, NULL, &raw, &n, err);
  if (rc != EP_OK) {
    *out = NULL;
    *len = 0;
    return rc;
  }
  bool zlib = n >= 2 && raw[0] == 0x78 && ((raw[0] << 8) | raw[1]) % 31 == 0;
  bool gzip = n >= 2 && raw[0] == 0x1f && raw[1] == 0x8b;
  if (!zlib && !gzip) {
    *out = raw;
    *len = n;
    return EP_OK;
  }
  ep_err_t e = {0};
  rc = ep_inflate_all(raw, n, cap, out, len, &e);
  free(raw);
  if (rc != EP_OK) {
    return ep_err_set(err, rc, "%s: %s", path, e.msg);
  }
  return EP_OK;
}

typedef void *(*parse_fn)(const char *text, size_t len, ep_err_t *err);

static void *parse_consensus(const char *text, size_t len, ep_err_t *err) {
  return ep_consensus_parse(text, len, err);
}

static void *parse_certs(const char *text, size_t len, ep_err_t *err) {
  return ep_authcerts_parse(text, len, err);
}

/* A document read from path and parsed; errors name the file. */
static void *load_doc(const char *path, size_t cap, parse_fn parse, ep_err_t *err) {
  uint8_t *text = NULL;
  size_t len = 0;
  if (read_doc_file(path, cap, &text, &len, err) != EP_OK) {
    return NULL;
  }
  void *doc = parse((const char *)text, len, err);
  free(text);
  if (doc == NULL) {
    ep_err_wrap(err, err != NULL ? err->code : EP_ERR_MALFORMED, "%s", path);
  }
  return doc;
}

/* The cache's certificates for this network, for the consensus file cons. */
static ep_authcerts_t *cached_certs(const ep_dirclient_opts_t *o, const ep_dir_authset_t *auths,
                                    const char *cons, ep_dirclient_stats_t *s, ep_err_t *err) {
  uint8_t *text = NULL;
  size_t len = 0;
  ep_authcerts_t *certs = NULL;
  ep_cache_t *cache = o->no_cache ? NULL : ep_dc_open_cache(o, auths);
  int rc = cache != NULL
               ? ep_cache_read(cache, DC_CACHE_CERTS, EP_CAP_AUTHCERTS, &text, &len, err)
               : EP_CACHE_MISS;
  ep_cache_free(cache);
  if (rc == EP_OK) {
    certs = ep_authcerts_parse((const char *)text, len, err);
    free(text);
    s->certs_from_cache = certs != NULL;
  }
  if (certs == NULL) {
    ep_err_set(err, EP_ERR_VERIFY,
               "%s: no authority certificates to verify it with (give --certs FILE)", cons);
  }
  return certs;
}

/* Read path and join it into nd (dirjoin.h). */
static int join_file(ep_netdir_t *nd, ep_dirjoin_kind_t kind, const char *path, size_t cap,
                     time_t now, ep_dirjoin_counts_t *n, ep_err_t *err) {
  uint8_t *text = NULL;
  size_t len = 0;
  int rc = read_doc_file(path, cap, &text, &len, err);
  if (rc != EP_OK) {
    return rc;
  }
  rc = ep_dirjoin(nd, kind, text, len, path, now, n, err);
  free(text);
  return rc;
}

/* The microdescriptor and descriptor files, if given, into nd (in order:
 * a tor data directory's cached-microdescs, then cached-microdescs.new). */
static int join_files(ep_netdir_t *nd, const ep_dirclient_files_t *f, time_t now,
                      ep_dirclient_stats_t *s, ep_err_t *err) {
  ep_dirjoin_counts_t n;
  for (size_t i = 0; i < f->n_microdescs; i++) {
    if (ep_netdir_flavor(nd) != EP_FLAVOR_MICRODESC) {
      ep_warn("%s: an ns consensus has no microdescriptors to join: ignored", f->microdescs[i]);
      continue;
    }
    int rc = join_file(nd, EP_DIRJOIN_MICRODESCS, f->microdescs[i], EP_CAP_MICRODESCS, now, &n,
                       err);
    if (rc != EP_OK) {
      return rc;
    }
    s->md_from_cache += n.used;
  }
  for (size_t i = 0; i < f->n_descs; i++) {
    int rc = join_file(nd, EP_DIRJOIN_DESCS, f->descs[i], EP_CAP_SERVER_DESCS, now, &n, err);
    if (rc != EP_OK) {
      return rc;
    }
    s->descs_used += n.used;
    s->descs_rejected += n.rejected;
  }
  return EP_OK;
}

ep_netdir_t *ep_dirclient_load_files(const ep_dirclient_files_t *f, const ep_dirclient_opts_t *o,
                                     ep_dirclient_stats_t *st, ep_err_t *err) {
  ep_dirclient_stats_t local;
  ep_dirclient_stats_t *s = st != NULL ? st : &local;
  memset(s, 0, sizeof *s);
  int64_t t0 = ep_now_ms();
  const ep_dir_authset_t *auths = o->auths != NULL ? o->auths : ep_dir_authset_builtin();
  time_t now = f->has_at ? f->at : (o->now != 0 ? o->now : ep_wall_now());
  ep_consensus_t *c = load_doc(f->consensus, EP_CAP_CONSENSUS, parse_consensus, err);
  if (c == NULL) {
    return NULL;
  }
  /* Certificates: the file given, else the cache's for this network. */
  ep_authcerts_t *certs = f->certs != NULL
                              ? load_doc(f->certs, EP_CAP_AUTHCERTS, parse_certs, err)
                              : cached_certs(o, auths, f->consensus, s, err);
  if (certs == NULL) {
    ep_consensus_free(c);
    return NULL;
  }
  ep_sigreport_t rep;
  int rc = ep_dirclient_verify_consensus(
      c, auths, certs, now, o->skew_s, f->has_at ? EP_DIR_TIME_REASONABLY_LIVE : EP_DIR_TIME_LIVE,
      &rep, err);
  ep_authcerts_free(certs);
  if (rc != EP_OK) {
    ep_err_wrap(err, err != NULL ? err->code : EP_ERR_VERIFY, "%s", f->consensus);
    ep_consensus_free(c);
    return NULL;
  }
  ep_dirjoin_note_consensus(s, &rep, "file");
  ep_netdir_t *nd = ep_netdir_new(c, err);
  if (nd == NULL) {
    return NULL;
  }
  if (join_files(nd, f, now, s, err) != EP_OK) {
    ep_netdir_free(nd);
    return NULL;
  }
  s->md_missing = ep_netdir_n_missing_md(nd);
  s->ms_total = s->ms_verify = ep_now_ms() - t0;
  return nd;
}

/* ---- a tor DataDirectory ---- */

/* dir/name into dd if that file exists: the path, or NULL. */
static const char *datadir_path(ep_dirclient_datadir_t *dd, const char *dir, const char *name,
                                ep_err_t *err) {
  size_t dl = strlen(dir), nl = strlen(name), n = dl + 1 + nl + 1;
  if (n > EP_CAP_PATH) {
    ep_err_set(err, EP_ERR_LIMIT, "%s: path longer than EP_CAP_PATH", dir);
    return NULL;
  }
  char *p = malloc(n);
  if (p == NULL) {
    ep_err_set(err, EP_ERR_NOMEM, "%s: out of memory", dir);
    return NULL;
  }
  memcpy(p, dir, dl);
  p[dl] = '/';
  memcpy(p + dl + 1, name, nl + 1);
  /* absent, unreadable or empty: as if not there (tor leaves its .new
   * journals empty after folding them into the main file) */
  struct stat sb;
  if (access(p, R_OK) != 0 || stat(p, &sb) != 0 || sb.st_size == 0 ||
      dd->n >= sizeof dd->paths / sizeof dd->paths[0]) {
    free(p);
    return NULL;
  }
  dd->paths[dd->n++] = p;
  return p;
}

void ep_dirclient_datadir_free(ep_dirclient_datadir_t *dd) {
  for (size_t i = 0; i < dd->n; i++) {
    free(dd->paths[i]);
  }
  memset(dd, 0, sizeof *dd);
}

int ep_dirclient_datadir_files(const char *dir, ep_dirclient_datadir_t *dd, ep_dirclient_files_t *f,
                               ep_err_t *err) {
  static const char *const mds[] = {"cached-microdescs", "cached-microdescs.new"};
  static const char *const descs[] = {"cached-descriptors", "cached-descriptors.new"};
  memset(dd, 0, sizeof *dd);
  ep_err_t e = {0};
  f->consensus = datadir_path(dd, dir, "cached-microdesc-consensus", &e);
  if (f->consensus == NULL && e.code == 0) {
    f->consensus = datadir_path(dd, dir, "cached-consensus", &e);
  }
  if (f->consensus == NULL) {
    if (e.code != 0) {
      *err = e;
      return e.code;
    }
    return ep_err_set(err, EP_ERR_IO,
                      "%s: no cached-microdesc-consensus or cached-consensus (not a tor "
                      "DataDirectory?)", dir);
  }
  f->certs = datadir_path(dd, dir, "cached-certs", &e);
  f->n_microdescs = f->n_descs = 0;
  for (size_t i = 0; i < 2; i++) {
    if ((dd->md[f->n_microdescs] = datadir_path(dd, dir, mds[i], &e)) != NULL) {
      f->n_microdescs++;
    }
    if ((dd->descs[f->n_descs] = datadir_path(dd, dir, descs[i], &e)) != NULL) {
      f->n_descs++;
    }
  }
  f->microdescs = dd->md;
  f->descs = dd->descs;
  if (e.code != 0) {
    *err = e;
    ep_dirclient_datadir_free(dd);
    return e.code;
  }
  return EP_OK;
}
