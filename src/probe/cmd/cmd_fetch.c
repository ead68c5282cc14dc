/* exitprobe fetch — one directory document, as served, for debugging and
 * for checking that BEGIN_DIR over an ORPort gives what the DirPort gives. */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/timeutil.h"
#include "probe/cmd/cmd.h"
#include "probe/cmd/commands.h"
#include "probe/dirclient/dirstream.h"
#include "probe/dirclient/http.h"
#include "probe/dirclient/inflate.h"
#include "probe/net/loop.h"
#include "probe/net/net.h"
#include "probe/net/relayspec.h"
#include "probe/net/tls.h"

typedef struct fetch_run {
  bool done;
  int rc;
  int status;
  uint8_t *body;
  size_t len;
  char msg[EP_ERR_MSG_MAX];
} fetch_run_t;

static void on_done(void *arg, int rc, ep_http_resp_t *resp, const ep_err_t *err) {
  fetch_run_t *f = arg;
  f->done = true;
  f->rc = rc;
  if (rc != EP_OK) {
    snprintf(f->msg, sizeof f->msg, "%s", err != NULL ? err->msg : "failed");
    return;
  }
  f->status = ep_http_resp_status(resp);
  ep_err_t terr = {0};
  f->body = ep_http_resp_take_body(resp, &f->len, &terr);
  if (f->body == NULL) {
    f->rc = terr.code ? terr.code : EP_ERR_IO;
    snprintf(f->msg, sizeof f->msg, "%s", terr.msg);
  }
}

static bool is_done(void *arg) { return ((fetch_run_t *)arg)->done; }

static void fetch_usage(FILE *out) {
  fprintf(out,
          "Usage: exitprobe fetch (--dirport IP:PORT | --orport RELAY) PATH [--output FILE]\n"
          "\n"
          "Fetches one directory document (e.g. /tor/status-vote/current/consensus-microdesc)\n"
          "and writes its body, inflated, as served: from a DirPort over plain HTTP, or from\n"
          "an ORPort over a one-hop circuit and a BEGIN_DIR stream (the relay's identity is\n"
          "verified from its CERTS cell). Nothing is parsed or verified: for debugging.\n"
          "A RELAY is IP:ORPORT~FINGERPRINT[~NTOR_KEY] (without the ntor key: CREATE_FAST).\n"
          "\n"
          "  --timeout D   the whole fetch (default 30s)\n");
}

int ep_cmd_fetch(int argc, char **argv) {
  const char *dirport = NULL, *orport = NULL, *path = NULL, *output = NULL;
  int64_t timeout_ms = 30000;
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    const char *v = i + 1 < argc ? argv[i + 1] : NULL;
    if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
      fetch_usage(stdout);
      return EP_EXIT_OK;
    } else if (v != NULL && strcmp(a, "--dirport") == 0) {
      dirport = argv[++i];
    } else if (v != NULL && strcmp(a, "--orport") == 0) {
      orport = argv[++i];
    } else if (v != NULL && strcmp(a, "--output") == 0) {
      output = argv[++i];
    } else if (v != NULL && strcmp(a, "--timeout") == 0) {
      if (ep_duration_parse(v, &timeout_ms) != 0 || timeout_ms <= 0) {
        fprintf(stderr, "exitprobe fetch: bad --timeout\n");
        return EP_EXIT_USAGE;
      }
      i++;
    } else if (a[0] != '-' && path == NULL) {
      path = a;
    } else {
      fprintf(stderr, "exitprobe fetch: unknown option '%s' (try --help)\n", a);
      return EP_EXIT_USAGE;
    }
  }
  if (path == NULL || path[0] != '/' || (dirport == NULL) == (orport == NULL)) {
    fetch_usage(stderr);
    return EP_EXIT_USAGE;
  }
  ep_err_t err = {0};
  ep_target_t relay;
  if (orport != NULL) {
    if (ep_relayspec_parse(orport, &relay, &err) != EP_OK) {
      fprintf(stderr, "exitprobe fetch: %s\n", err.msg);
      return EP_EXIT_USAGE;
    }
  }
  ep_addr_t addr;
  if (dirport != NULL && ep_addr_parse(&addr, dirport, &err) != EP_OK) {
    fprintf(stderr, "exitprobe fetch: %s\n", err.msg);
    return EP_EXIT_USAGE;
  }
  ep_loop_t *loop = ep_loop_new(&err);
  ep_tls_ctx_t *tls = loop != NULL ? ep_tls_ctx_new_client(&err) : NULL;
  if (tls == NULL) {
    fprintf(stderr, "exitprobe fetch: %s\n", err.msg);
    ep_loop_free(loop);
    return EP_EXIT_FAILURE;
  }
  ep_loop_catch_signals(loop, NULL);
  ep_http_limits_t lim;
  ep_http_limits_default(&lim);
  lim.timeout_ms = timeout_ms;
  fetch_run_t f = {0};
  bool started;
  if (orport != NULL) {
    started = ep_dirstream_fetch(loop, tls, &relay, path, &lim, on_done, &f, &err) != NULL;
  } else {
    char ip[EP_ADDR_STRLEN];
    ep_addr_format(&addr, ip, sizeof ip);
    char *colon = strrchr(ip, ':');
    if (colon != NULL) {
      *colon = '\0';
    }
    char *ipv = ip[0] == '[' ? ip + 1 : ip;
    char *rb = strchr(ipv, ']');
    if (rb != NULL) {
      *rb = '\0';
    }
    started = ep_http_fetch(loop, ipv, ep_addr_port(&addr), path, &lim, on_done, &f, &err) != NULL;
  }
  int status = EP_EXIT_FAILURE;
  if (!started) {
    fprintf(stderr, "exitprobe fetch: %s\n", err.msg);
  } else {
    ep_loop_run_until(loop, is_done, &f, ep_now_ms() + timeout_ms + 5000, NULL);
    ep_loop_run_once(loop, 0, NULL);
    if (!f.done) {
      fprintf(stderr, "exitprobe fetch: no answer\n");
    } else if (f.rc != EP_OK) {
      fprintf(stderr, "exitprobe fetch: %s\n", f.msg);
    } else if (f.status != 200) {
      fprintf(stderr, "exitprobe fetch: HTTP status %d\n", f.status);
    } else {
      FILE *out = output != NULL ? fopen(output, "wb") : stdout;
      if (out == NULL || fwrite(f.body, 1, f.len, out) != f.len) {
        fprintf(stderr, "exitprobe fetch: cannot write the body\n");
      } else {
        fprintf(stderr, "exitprobe fetch: %zu bytes\n", f.len);
        status = EP_EXIT_OK;
      }
      if (out != NULL && out != stdout) {
        fclose(out);
      }
    }
  }
  free(f.body);
  ep_tls_ctx_free(tls);
  ep_loop_free(loop);
  return status;
}
