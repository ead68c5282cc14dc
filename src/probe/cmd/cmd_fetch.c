/* exitprobe fetch — one directory document, as served, for debugging and
 * for checking that BEGIN_DIR over an ORPort gives what the DirPort gives. */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/timeutil.h"
#include "probe/cmd/cmd.h"
#include "probe/cmd/commands.h"
#include "probe/cmd/opts.h"
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

typedef struct fetch_opts {
  const char *dirport, *orport, *output;
  int64_t timeout_ms;
} fetch_opts_t;

static const ep_opt_t fetch_table[] = {
  {.name = "--dirport", .kind = EP_OPT_STRING, EP_OPT_AT(fetch_opts_t, dirport)},
  {.name = "--orport", .kind = EP_OPT_STRING, EP_OPT_AT(fetch_opts_t, orport)},
  {.name = "--output", .kind = EP_OPT_STRING, EP_OPT_AT(fetch_opts_t, output)},
  {.name = "--timeout", .kind = EP_OPT_DURATION, EP_OPT_AT(fetch_opts_t, timeout_ms), .min = 1,
   .help = "  --timeout D   the whole fetch (default 30s)\n"},
  EP_OPT_OUTBOUND_ADDRESS("  --outbound-address A  connect from local address A\n"),
  {.name = "--help", .short_name = 'h', .kind = EP_OPT_HELP},
};

static const ep_optspec_t fetch_spec = {
  .cmd = "fetch",
  .head = "Usage: exitprobe fetch (--dirport IP:PORT | --orport RELAY) PATH [--output FILE]\n"
          "\n"
          "Fetches one directory document (e.g. /tor/status-vote/current/consensus-microdesc)\n"
          "and writes its body, inflated, as served: from a DirPort over plain HTTP, or from\n"
          "an ORPort over a one-hop circuit and a BEGIN_DIR stream (the relay's identity is\n"
          "verified from its CERTS cell). Nothing is parsed or verified: for debugging.\n"
          "A RELAY is IP:ORPORT~FINGERPRINT[~NTOR_KEY] (without the ntor key: CREATE_FAST).\n"
          "\n",
  .opts = fetch_table,
  .n_opts = sizeof fetch_table / sizeof fetch_table[0],
  .tail = "",
  .max_operands = 1,
};

/* Start the fetch of path (from the relay, or from the DirPort addr). */
static bool fetch_start(ep_loop_t *loop, ep_tls_ctx_t *tls, const ep_target_t *relay,
                        const ep_addr_t *addr, const char *path, const ep_http_limits_t *lim,
                        fetch_run_t *f, ep_err_t *err) {
  if (relay != NULL) {
    return ep_dirstream_fetch(loop, tls, relay, path, lim, on_done, f, err) != NULL;
  }
  char ip[EP_ADDR_STRLEN];
  ep_addr_format(addr, ip, sizeof ip);
  char *colon = strrchr(ip, ':');
  if (colon != NULL) {
    *colon = '\0';
  }
  char *ipv = ip[0] == '[' ? ip + 1 : ip;
  char *rb = strchr(ipv, ']');
  if (rb != NULL) {
    *rb = '\0';
  }
  return ep_http_fetch(loop, ipv, ep_addr_port(addr), path, lim, on_done, f, err) != NULL;
}

/* Wait for the answer and write its body; the exit status. */
static int fetch_finish(ep_loop_t *loop, fetch_run_t *f, const fetch_opts_t *o) {
  ep_loop_run_until(loop, is_done, f, ep_now_ms() + o->timeout_ms + 5000, NULL);
  ep_loop_run_once(loop, 0, NULL);
  if (!f->done) {
    fprintf(stderr, "exitprobe fetch: no answer\n");
    return EP_EXIT_FAILURE;
  } else if (f->rc != EP_OK) {
    fprintf(stderr, "exitprobe fetch: %s\n", f->msg);
    return EP_EXIT_FAILURE;
  } else if (f->status != 200) {
    fprintf(stderr, "exitprobe fetch: HTTP status %d\n", f->status);
    return EP_EXIT_FAILURE;
  }
  int status = EP_EXIT_FAILURE;
  FILE *out = o->output != NULL ? fopen(o->output, "wb") : stdout;
  if (out == NULL || fwrite(f->body, 1, f->len, out) != f->len) {
    fprintf(stderr, "exitprobe fetch: cannot write the body\n");
  } else {
    fprintf(stderr, "exitprobe fetch: %zu bytes\n", f->len);
    status = EP_EXIT_OK;
  }
  if (out != NULL && out != stdout) {
    fclose(out);
  }
  return status;
}

int ep_cmd_fetch(int argc, char **argv) {
  fetch_opts_t o = {.timeout_ms = 30000};
  size_t n_operands = 0;
  ep_opts_rc_t orc = ep_opts_parse(&fetch_spec, &o, argc, argv, &n_operands);
  if (orc != EP_OPTS_OK) {
    return ep_opts_exit_status(orc);
  }
  const char *path = n_operands > 0 ? argv[1] : NULL;
  if (path == NULL || path[0] != '/' || (o.dirport == NULL) == (o.orport == NULL)) {
    ep_opts_usage(&fetch_spec, stderr);
    return EP_EXIT_USAGE;
  }
  ep_err_t err = {0};
  ep_target_t relay;
  ep_addr_t addr;
  memset(&addr, 0, sizeof addr);
  if ((o.orport != NULL && ep_relayspec_parse(o.orport, &relay, &err) != EP_OK) ||
      (o.dirport != NULL && ep_addr_parse(&addr, o.dirport, &err) != EP_OK)) {
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
  lim.timeout_ms = o.timeout_ms;
  fetch_run_t f = {0};
  int status = EP_EXIT_FAILURE;
  if (!fetch_start(loop, tls, o.orport != NULL ? &relay : NULL, &addr, path, &lim, &f, &err)) {
    fprintf(stderr, "exitprobe fetch: %s\n", err.msg);
  } else {
    status = fetch_finish(loop, &f, &o);
  }
  free(f.body);
  ep_tls_ctx_free(tls);
  ep_loop_free(loop);
  return status;
}
