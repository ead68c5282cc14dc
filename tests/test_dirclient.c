/* exitprobe — unit tests of src/probe/dirclient: fetching, verifying and
 * caching the directory against tiny in-test HTTP servers on 127.0.0.1
 * serving a test network's documents (tests/data/dirclient): a good run, a
 * failing / hanging / closing / bombing / truncating first authority, a
 * consensus signed by too few authorities, an expired one, the cache, batch
 * sizes, a pluggable transport, offline files. */
#include "config.h"

#include <arpa/inet.h>
#include <check.h>
#include <errno.h>
#include <ftw.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>
#include <zlib.h>

#include "dir/authority.h"
#include "dir/microdesc.h"
#include "lib/buf.h"
#include "lib/crypto.h"
#include "lib/encode.h"
#include "lib/log.h"
#include "lib/timeutil.h"
#include "probe/dirclient/cache.h"
#include "probe/dirclient/dirclient.h"
#include "probe/dirclient/dirjoin.h"
#include "probe/net/loop.h"
#include "probe/dirclient/netdir.h"
#include "testutil.h"

/* The sample consensus: valid-after 04:33:20, valid-until 04:33:40. */
static time_t sample_va(void) {
  time_t t;
  ck_assert_int_eq(ep_time_parse_tor("2026-11-25 04:33:20", 19, &t), 0);
  return t;
}

/* ---------------------------------------------------------------------- */
/* the in-test authorities */

typedef enum beh {
  B_OK,            /* serve what is asked */
  B_REFUSE,        /* nothing listens on the port */
  B_HANG,          /* accept, read the request, never answer */
  B_CLOSE,         /* close right after the request */
  B_503,           /* "503 Busy" */
  B_BOMB,          /* Content-Encoding: deflate, 100 MB of zeros */
  B_TRUNC_CL,      /* Content-Length, then half of it, then close */
  B_TRUNC_DOC,     /* a consensus cut in half (no Content-Length) */
  B_MD_PARTIAL,    /* leaves out the first microdescriptor asked for */
  B_NS             /* serves the ns flavour for the microdesc consensus */
} beh_t;

#define MAX_PATHS 64

typedef struct tsrv {
  int lfd;
  uint16_t port;
  beh_t beh;
  const char *cons;       /* consensus this server serves */
  size_t cons_len;
  atomic_int n_req;
  char paths[MAX_PATHS][4096];
  int hang[16];
  int n_hang;
} tsrv_t;

typedef struct tnet {
  tsrv_t srv[3];
  size_t n;
  pthread_t th;
  int stop[2];
  bool deflate;
  char *cons, *cons_ns, *keys, *micro;
  size_t cons_len, cons_ns_len, keys_len, micro_len;
  ep_microdescs_t *mds;
  uint8_t *bomb;
  size_t bomb_len;
  ep_dir_authset_t *auths;
} tnet_t;

static const char *const v3ids[3] = {"543084BFC0BB0A8DC31435E52A5AA7A9EB7A53C5",
                                     "F15B81D282BE6A0947042920F934C95CDAAB2AD2",
                                     "0B1181631EA0E1EC794A16CC722D52030E29BD39"};
static const char *const fprs[3] = {"8FE26084EBC3210E1760FEDBA0633490B6FB49F1",
                                    "C7354C299874DD72C5673C1102E2A1FC103FE928",
                                    "4A04ED7269CFE80F5CCBEA8752345187B4CDB3BA"};

static void send_all(int fd, const void *p, size_t n) {
  const uint8_t *b = p;
  while (n > 0) {
    ssize_t w = send(fd, b, n, MSG_NOSIGNAL);
    if (w <= 0) {
      return;  /* the client gave up: fine */
    }
    b += w;
    n -= (size_t)w;
  }
}

static void respond(int fd, int status, const char *reason, const void *body, size_t len,
                    bool deflate, bool clen, size_t send_len) {
  uint8_t *z = NULL;
  uLongf zl = 0;
  if (deflate) {
    zl = compressBound((uLong)len);
    z = malloc(zl);
    if (z == NULL || compress2(z, &zl, body, (uLong)len, 6) != Z_OK) {
      free(z);
      return;
    }
    body = z;
    len = zl;
  }
  if (send_len > len) {
    send_len = len;
  }
  char head[256];
  int hl = snprintf(head, sizeof head, "HTTP/1.0 %d %s\r\nContent-Type: text/plain\r\n%s", status,
                    reason, deflate ? "Content-Encoding: deflate\r\n" : "");
  if (clen) {
    hl += snprintf(head + hl, sizeof head - (size_t)hl, "Content-Length: %zu\r\n", len);
  }
  hl += snprintf(head + hl, sizeof head - (size_t)hl, "\r\n");
  send_all(fd, head, (size_t)hl);
  send_all(fd, body, send_len);
  free(z);
}

/* /tor/micro/d/A-B-C: the microdescriptors asked for that we have. */
static void serve_micro(tnet_t *net, tsrv_t *s, int fd, const char *list) {
  ep_buf_t b;
  ep_buf_init(&b, 1u << 20, "micro", 0);
  bool first = true;
  for (const char *p = list; *p != '\0';) {
    const char *e = strchr(p, '-');
    size_t n = e != NULL ? (size_t)(e - p) : strlen(p);
    uint8_t d[64];
    if (ep_base64_decode(d, sizeof d, p, n) == 32) {
      const ep_microdesc_t *md = ep_microdescs_find(net->mds, d);
      if (md != NULL && !(first && s->beh == B_MD_PARTIAL)) {
        ep_buf_append(&b, md->body, md->body_len, NULL);
      }
    }
    first = false;
    p += n;
    if (*p == '-') {
      p++;
    }
  }
  if (b.len == 0) {
    respond(fd, 404, "Not found", "", 0, false, true, 0);
  } else {
    respond(fd, 200, "OK", b.data, b.len, net->deflate, true, b.len);
  }
  ep_buf_free(&b);
}

static void serve(tnet_t *net, tsrv_t *s, int fd) {
  struct timeval tv = {2, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  char req[8192];
  size_t got = 0;
  while (got < sizeof req - 1) {
    ssize_t r = recv(fd, req + got, sizeof req - 1 - got, 0);
    if (r <= 0) {
      break;
    }
    got += (size_t)r;
    req[got] = '\0';
    if (strstr(req, "\r\n\r\n") != NULL) {
      break;
    }
  }
  req[got] = '\0';
  char path[4096] = "";
  if (sscanf(req, "GET %4095s HTTP/1.0", path) != 1) {
    close(fd);
    return;
  }
  int k = atomic_fetch_add(&s->n_req, 1);
  if (k < MAX_PATHS) {
    snprintf(s->paths[k], sizeof s->paths[k], "%s", path);
  }
  const char *cons_path = "/tor/status-vote/current/consensus-microdesc";
  switch (s->beh) {
    case B_HANG:
      if (s->n_hang < 16) {
        s->hang[s->n_hang++] = fd;
        return;
      }
      break;
    case B_CLOSE:
      break;
    case B_503:
      respond(fd, 503, "Busy", "busy\n", 5, false, true, 5);
      break;
    case B_BOMB:
      send_all(fd, "HTTP/1.0 200 OK\r\nContent-Encoding: deflate\r\n\r\n", 46);
      send_all(fd, net->bomb, net->bomb_len);
      break;
    case B_TRUNC_CL:
      respond(fd, 200, "OK", s->cons, s->cons_len, false, true, s->cons_len / 2);
      break;
    case B_TRUNC_DOC:
      respond(fd, 200, "OK", s->cons, s->cons_len / 2, net->deflate, false, s->cons_len);
      break;
    default:
      if (strcmp(path, cons_path) == 0) {
        const char *c = s->beh == B_NS ? net->cons_ns : s->cons;
        size_t cl = s->beh == B_NS ? net->cons_ns_len : s->cons_len;
        respond(fd, 200, "OK", c, cl, net->deflate, true, (size_t)-1);
      } else if (strncmp(path, "/tor/keys/", 10) == 0) {
        respond(fd, 200, "OK", net->keys, net->keys_len, net->deflate, true, (size_t)-1);
      } else if (strncmp(path, "/tor/micro/d/", 13) == 0) {
        serve_micro(net, s, fd, path + 13);
      } else {
        respond(fd, 404, "Not found", "", 0, false, true, 0);
      }
  }
  close(fd);
}

static void *server_main(void *arg) {
  tnet_t *net = arg;
  for (;;) {
    struct pollfd p[4];
    size_t map[4];
    size_t np = 0;
    p[np].fd = net->stop[0];
    p[np].events = POLLIN;
    map[np++] = (size_t)-1;
    for (size_t i = 0; i < net->n; i++) {
      if (net->srv[i].lfd >= 0) {
        p[np].fd = net->srv[i].lfd;
        p[np].events = POLLIN;
        map[np++] = i;
      }
    }
    if (poll(p, np, -1) < 0) {
      if (errno == EINTR) {
        continue;
      }
      break;
    }
    if (p[0].revents != 0) {
      break;
    }
    for (size_t k = 1; k < np; k++) {
      if (p[k].revents & POLLIN) {
        int fd = accept(p[k].fd, NULL, NULL);
        if (fd >= 0) {
          serve(net, &net->srv[map[k]], fd);
        }
      }
    }
  }
  return NULL;
}

static uint16_t listen_on(int *fd_out) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  ck_assert_int_ge(fd, 0);
  int one = 1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  struct sockaddr_in a;
  memset(&a, 0, sizeof a);
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ck_assert_int_eq(bind(fd, (struct sockaddr *)&a, sizeof a), 0);
  socklen_t l = sizeof a;
  ck_assert_int_eq(getsockname(fd, (struct sockaddr *)&a, &l), 0);
  ck_assert_int_eq(listen(fd, 16), 0);
  *fd_out = fd;
  return ntohs(a.sin_port);
}

/* 100 MB of zeros, deflated (about 100 KB), built without 100 MB. */
static uint8_t *make_bomb(size_t *len) {
  z_stream z;
  memset(&z, 0, sizeof z);
  ck_assert_int_eq(deflateInit(&z, 9), Z_OK);
  size_t cap = 1u << 20;
  uint8_t *out = malloc(cap);
  static const uint8_t zeros[65536];
  z.next_out = out;
  z.avail_out = (uInt)cap;
  for (size_t done = 0; done < 100u * 1024 * 1024; done += sizeof zeros) {
    z.next_in = (Bytef *)zeros;
    z.avail_in = sizeof zeros;
    ck_assert_int_eq(deflate(&z, Z_NO_FLUSH), Z_OK);
  }
  ck_assert_int_eq(deflate(&z, Z_FINISH), Z_STREAM_END);
  *len = cap - z.avail_out;
  deflateEnd(&z);
  return out;
}

static char *read_text(const char *rel, size_t *n) { return (char *)tu_read_data(rel, n); }

/* Three authorities on 127.0.0.1 with the sample's v3 identities. */
static tnet_t *net_new(beh_t b0, beh_t b1, beh_t b2) {
  tnet_t *net = calloc(1, sizeof *net);
  ck_assert_ptr_nonnull(net);
  net->cons = read_text("dirclient/consensus-microdesc", &net->cons_len);
  net->cons_ns = read_text("dirclient/consensus", &net->cons_ns_len);
  net->keys = read_text("dirclient/keys-all", &net->keys_len);
  net->micro = read_text("dirclient/micro-d", &net->micro_len);
  ep_err_t err = {0};
  net->mds = ep_microdescs_parse(net->micro, net->micro_len, 0, &err);
  ck_assert_ptr_nonnull(net->mds);
  net->deflate = true;
  beh_t b[3] = {b0, b1, b2};
  net->n = 3;
  ep_buf_t torrc;
  ep_buf_init(&torrc, 1u << 16, "torrc", 0);
  for (size_t i = 0; i < 3; i++) {
    tsrv_t *s = &net->srv[i];
    s->beh = b[i];
    s->cons = net->cons;
    s->cons_len = net->cons_len;
    atomic_init(&s->n_req, 0);
    s->port = listen_on(&s->lfd);
    if (b[i] == B_REFUSE) {
      close(s->lfd);  /* the port is free: connections are refused */
      s->lfd = -1;
    }
    if (b[i] == B_BOMB && net->bomb == NULL) {
      net->bomb = make_bomb(&net->bomb_len);
    }
    ep_buf_printf(&torrc, NULL, "DirAuthority auth%zu orport=%u no-v2 v3ident=%s 127.0.0.1:%u %s\n",
                  i, (unsigned)(5000 + i), v3ids[i], (unsigned)s->port, fprs[i]);
  }
  net->auths = ep_dir_authset_parse((const char *)torrc.data, torrc.len, "test torrc", &err);
  ck_assert_msg(net->auths != NULL, "%s", err.msg);
  ep_buf_free(&torrc);
  ck_assert_int_eq(pipe(net->stop), 0);
  ck_assert_int_eq(pthread_create(&net->th, NULL, server_main, net), 0);
  return net;
}

static void net_free(tnet_t *net) {
  ck_assert_int_eq(write(net->stop[1], "x", 1), 1);
  pthread_join(net->th, NULL);
  close(net->stop[0]);
  close(net->stop[1]);
  for (size_t i = 0; i < net->n; i++) {
    if (net->srv[i].lfd >= 0) {
      close(net->srv[i].lfd);
    }
    for (int k = 0; k < net->srv[i].n_hang; k++) {
      close(net->srv[i].hang[k]);
    }
  }
  ep_dir_authset_free(net->auths);
  ep_microdescs_free(net->mds);
  free(net->cons);
  free(net->cons_ns);
  free(net->keys);
  free(net->micro);
  free(net->bomb);
  free(net);
}

/* ---------------------------------------------------------------------- */
/* running the client */

static FILE *logf_;

static void capture_log(void) {
  logf_ = tmpfile();
  ck_assert_ptr_nonnull(logf_);
  ep_log_set_file(logf_);
  ep_log_set_level(EP_LOG_INFO);
}

/* Everything logged so far (static buffer). */
static const char *logged(void) {
  static char buf[1 << 16];
  fflush(logf_);
  long end = ftell(logf_);
  rewind(logf_);
  size_t n = fread(buf, 1, sizeof buf - 1, logf_);
  buf[n] = '\0';
  fseek(logf_, end, SEEK_SET);
  return buf;
}

static void opts_for(ep_dirclient_opts_t *o, tnet_t *net) {
  ep_dirclient_opts_default(o);
  o->auths = net->auths;
  o->no_cache = true;
  o->in_order = true;
  o->now = sample_va() + 5;
  o->request_timeout_ms = 5000;
  o->timeout_ms = 20000;
}

static ep_netdir_t *fetch(const ep_dirclient_opts_t *o, ep_dirclient_stats_t *st, ep_err_t *err) {
  ep_loop_t *loop = ep_loop_new(err);
  ck_assert_ptr_nonnull(loop);
  ep_netdir_t *nd = ep_dirclient_fetch(loop, o, st, err);
  ck_assert_uint_eq(ep_loop_timer_count(loop), 0);  /* nothing left behind */
  ep_loop_free(loop);
  return nd;
}

static size_t n_exits_25(const ep_netdir_t *nd) {
  ep_exit_query_t q = {.port = 25};
  ep_exit_candidate_t *v = NULL;
  size_t n = 0;
  ck_assert_int_eq(ep_netdir_exits(nd, &q, &v, &n, NULL, NULL), EP_OK);
  free(v);
  return n;
}

/* ---------------------------------------------------------------------- */
/* tests */

START_TEST(good_fetch_verifies_and_joins) {
  capture_log();
  tnet_t *net = net_new(B_OK, B_OK, B_OK);
  ep_dirclient_opts_t o;
  opts_for(&o, net);
  ep_dirclient_stats_t st;
  ep_err_t err = {0};
  ep_netdir_t *nd = fetch(&o, &st, &err);
  ck_assert_msg(nd != NULL, "%s", err.msg);
  ck_assert_uint_eq(ep_netdir_count(nd), 15);
  ck_assert_uint_eq(ep_netdir_n_missing_md(nd), 0);
  ck_assert_uint_eq(n_exits_25(nd), 10);
  /* consensus, certificates, one batch of microdescriptors: all from auth0. */
  ck_assert_uint_eq(st.n_requests, 3);
  ck_assert_uint_eq(st.n_failed, 0);
  ck_assert_int_eq(atomic_load(&net->srv[0].n_req), 3);
  ck_assert_str_eq(net->srv[0].paths[0], "/tor/status-vote/current/consensus-microdesc");
  ck_assert_msg(strncmp(net->srv[0].paths[1], "/tor/keys/fp/", 13) == 0, "%s", net->srv[0].paths[1]);
  ck_assert(strstr(net->srv[0].paths[1], v3ids[0]) != NULL);
  ck_assert(strstr(net->srv[0].paths[1], v3ids[1]) != NULL);
  ck_assert(strstr(net->srv[0].paths[1], v3ids[2]) != NULL);
  ck_assert_msg(strncmp(net->srv[0].paths[2], "/tor/micro/d/", 13) == 0, "%s", net->srv[0].paths[2]);
  ck_assert_uint_eq(st.sigs_good, 3);
  ck_assert_uint_eq(st.sigs_needed, 2);
  ck_assert_uint_eq(st.auths_known, 3);
  ck_assert_uint_eq(st.certs_fetched, 3);
  ck_assert_uint_eq(st.md_fetched, 15);
  ck_assert_uint_eq(st.md_missing, 0);
  ck_assert_uint_gt(st.body_bytes, st.wire_bytes);  /* it came deflated */
  char want[64];
  snprintf(want, sizeof want, "auth0 127.0.0.1:%u", (unsigned)net->srv[0].port);
  ck_assert_str_eq(st.consensus_from, want);
  const char *log = logged();
  ck_assert_msg(strstr(log, "fetched consensus-microdesc from auth0 127.0.0.1:") != NULL, "%s", log);
  ck_assert_msg(strstr(log, "deflated \xe2\x86\x92 ") != NULL, "%s", log);
  ck_assert_msg(strstr(log, "signed by 3 of 3 authorities (2 needed)") != NULL, "%s", log);
  /* Every relay's target can be filled. */
  for (size_t i = 0; i < ep_netdir_count(nd); i++) {
    ep_target_t t;
    ck_assert_int_eq(ep_netdir_target(nd, ep_netdir_relay(nd, i), &t, &err), EP_OK);
    ck_assert(t.has_ed25519);
  }
  ep_netdir_free(nd);
  net_free(net);
}
END_TEST

START_TEST(identity_encoding_works_too) {
  tnet_t *net = net_new(B_OK, B_OK, B_OK);
  net->deflate = false;
  ep_dirclient_opts_t o;
  opts_for(&o, net);
  ep_dirclient_stats_t st;
  ep_err_t err = {0};
  ep_netdir_t *nd = fetch(&o, &st, &err);
  ck_assert_msg(nd != NULL, "%s", err.msg);
  ck_assert_uint_eq(st.body_bytes, st.wire_bytes);
  ep_netdir_free(nd);
  net_free(net);
}
END_TEST

/* One broken first authority of each kind, then a good one. */
static void first_fails_then_good(beh_t bad, const char *in_log) {
  capture_log();
  tnet_t *net = net_new(bad, B_OK, B_OK);
  ep_dirclient_opts_t o;
  opts_for(&o, net);
  o.request_timeout_ms = 400;  /* for B_HANG */
  ep_dirclient_stats_t st;
  ep_err_t err = {0};
  ep_netdir_t *nd = fetch(&o, &st, &err);
  const char *log = logged();
  ck_assert_msg(nd != NULL, "%s\n%s", err.msg, log);
  ck_assert_uint_eq(ep_netdir_n_missing_md(nd), 0);
  ck_assert_uint_eq(n_exits_25(nd), 10);
  ck_assert_uint_ge(st.n_failed, 1);
  char want[64];
  snprintf(want, sizeof want, "auth1 127.0.0.1:%u", (unsigned)net->srv[1].port);
  ck_assert_str_eq(st.consensus_from, want);
  char trying[96];
  snprintf(trying, sizeof trying, "authority auth0 127.0.0.1:%u: consensus-microdesc: ",
           (unsigned)net->srv[0].port);
  ck_assert_msg(strstr(log, trying) != NULL, "%s", log);
  snprintf(trying, sizeof trying, "; trying auth1 127.0.0.1:%u", (unsigned)net->srv[1].port);
  ck_assert_msg(strstr(log, trying) != NULL, "%s", log);
  ck_assert_msg(strstr(log, in_log) != NULL, "want '%s' in:\n%s", in_log, log);
  ep_netdir_free(nd);
  net_free(net);
}

START_TEST(refused_first_authority) { first_fails_then_good(B_REFUSE, "ECONNREFUSED"); }
END_TEST

START_TEST(hanging_first_authority) { first_fails_then_good(B_HANG, "within 400 ms"); }
END_TEST

START_TEST(closing_first_authority) { first_fails_then_good(B_CLOSE, "connection closed before any response"); }
END_TEST

START_TEST(busy_first_authority) { first_fails_then_good(B_503, "HTTP 503 Busy"); }
END_TEST

START_TEST(deflate_bomb_from_first_authority) { first_fails_then_good(B_BOMB, "deflate bomb"); }
END_TEST

START_TEST(truncated_body_from_first_authority) {
  first_fails_then_good(B_TRUNC_CL, "body: connection closed after 4163 of 8326 bytes");
}
END_TEST

START_TEST(truncated_document_from_first_authority) {
  /* Ends early without a Content-Length: the HTTP layer cannot tell, the
   * consensus parser does, naming a line. */
  first_fails_then_good(B_TRUNC_DOC, "line ");
}
END_TEST

START_TEST(wrong_flavour_from_first_authority) {
  first_fails_then_good(B_NS, "served the ns flavour");
}
END_TEST

START_TEST(every_authority_broken) {
  capture_log();
  tnet_t *net = net_new(B_REFUSE, B_BOMB, B_TRUNC_CL);
  ep_dirclient_opts_t o;
  opts_for(&o, net);
  ep_dirclient_stats_t st;
  ep_err_t err = {0};
  ep_netdir_t *nd = fetch(&o, &st, &err);
  ck_assert_ptr_null(nd);
  ck_assert_msg(strstr(err.msg, "no verified consensus-microdesc: every authority failed (last: ") !=
                    NULL,
                "%s", err.msg);
  ck_assert_msg(strstr(err.msg, "connection closed after 4163 of 8326 bytes") != NULL, "%s",
                err.msg);
  ck_assert_int_eq(err.code, EP_ERR_TRUNCATED);
  const char *log = logged();
  ck_assert_msg(strstr(log, "no authority left to try") != NULL, "%s", log);
  ck_assert_msg(strstr(log, "deflate bomb") != NULL, "%s", log);
  ck_assert_uint_eq(st.n_failed, 3);
  net_free(net);
}
END_TEST

/* The sample consensus with only its first signature. */
static void keep_one_signature(tnet_t *net) {
  char *first = strstr(net->cons, "\ndirectory-signature ");
  ck_assert_ptr_nonnull(first);
  char *second = strstr(first + 1, "\ndirectory-signature ");
  ck_assert_ptr_nonnull(second);
  second[1] = '\0';
  size_t len = (size_t)(second + 1 - net->cons);
  for (size_t i = 0; i < net->n; i++) {
    net->srv[i].cons_len = len;
  }
}

START_TEST(too_few_signatures) {
  capture_log();
  tnet_t *net = net_new(B_OK, B_OK, B_OK);
  keep_one_signature(net);
  ep_dirclient_opts_t o;
  opts_for(&o, net);
  ep_dirclient_stats_t st;
  ep_err_t err = {0};
  ep_netdir_t *nd = fetch(&o, &st, &err);
  ck_assert_ptr_null(nd);
  ck_assert_int_eq(err.code, EP_ERR_VERIFY);
  ck_assert_msg(strstr(err.msg, "1 good signature from 3 trusted authorities, need 2") != NULL, "%s",
                err.msg);
  /* Each authority was asked for it once. */
  for (size_t i = 0; i < 3; i++) {
    ck_assert_int_ge(atomic_load(&net->srv[i].n_req), 1);
    ck_assert_str_eq(net->srv[i].paths[0], "/tor/status-vote/current/consensus-microdesc");
  }
  const char *log = logged();
  ck_assert_msg(strstr(log, "consensus-microdesc from auth0 127.0.0.1:") != NULL, "%s", log);
  net_free(net);
}
END_TEST

START_TEST(only_first_authority_short_of_signatures) {
  tnet_t *net = net_new(B_OK, B_OK, B_OK);
  /* auth0 serves a copy with one signature, the others the real one. */
  char *copy = malloc(net->cons_len + 1);
  memcpy(copy, net->cons, net->cons_len + 1);
  char *second = strstr(strstr(copy, "\ndirectory-signature ") + 1, "\ndirectory-signature ");
  second[1] = '\0';
  net->srv[0].cons = copy;
  net->srv[0].cons_len = (size_t)(second + 1 - copy);
  ep_dirclient_opts_t o;
  opts_for(&o, net);
  ep_dirclient_stats_t st;
  ep_err_t err = {0};
  ep_netdir_t *nd = fetch(&o, &st, &err);
  ck_assert_msg(nd != NULL, "%s", err.msg);
  ck_assert_uint_eq(st.sigs_good, 3);
  ck_assert(strncmp(st.consensus_from, "auth1 ", 6) == 0);
  ep_netdir_free(nd);
  net_free(net);
  free(copy);
}
END_TEST

START_TEST(expired_consensus) {
  tnet_t *net = net_new(B_OK, B_OK, B_OK);
  ep_dirclient_opts_t o;
  opts_for(&o, net);
  o.now = sample_va() + 20 + 3600;  /* an hour past valid-until */
  ep_dirclient_stats_t st;
  ep_err_t err = {0};
  ep_netdir_t *nd = fetch(&o, &st, &err);
  ck_assert_ptr_null(nd);
  ck_assert_int_eq(err.code, EP_ERR_EXPIRED);
  ck_assert_msg(strstr(err.msg, "expired at 2026-11-25 04:33:40 (now 2026-11-25 05:33:40)") != NULL,
                "%s", err.msg);
  /* Not even the certificates were asked for. */
  for (size_t i = 0; i < 3; i++) {
    ck_assert_int_eq(atomic_load(&net->srv[i].n_req), 1);
  }
  /* Within the skew it is fine; before valid-after - skew it is not. */
  o.now = sample_va() + 20 + 299;
  nd = fetch(&o, &st, &err);
  ck_assert_msg(nd != NULL, "%s", err.msg);
  ep_netdir_free(nd);
  o.now = sample_va() - 301;
  nd = fetch(&o, &st, &err);
  ck_assert_ptr_null(nd);
  ck_assert_msg(strstr(err.msg, "not valid before 2026-11-25 04:33:20") != NULL, "%s", err.msg);
  net_free(net);
}
END_TEST

static char *tmpdir(void) {
  char *d = strdup("/tmp/test_dirclient.XXXXXX");
  ck_assert_ptr_nonnull(mkdtemp(d));
  return d;
}

static int rm_one(const char *p, const struct stat *sb, int flag, struct FTW *ftw) {
  (void)sb;
  (void)flag;
  (void)ftw;
  return remove(p);
}

static void rm_rf(char *d) {
  nftw(d, rm_one, 16, FTW_DEPTH | FTW_PHYS);
  free(d);
}

START_TEST(cache_reuses_a_live_consensus) {
  capture_log();
  char *dir = tmpdir();
  tnet_t *net = net_new(B_OK, B_OK, B_OK);
  ep_dirclient_opts_t o;
  opts_for(&o, net);
  o.no_cache = false;
  o.cache_dir = dir;
  ep_dirclient_stats_t st;
  ep_err_t err = {0};
  ep_netdir_t *nd = fetch(&o, &st, &err);
  ck_assert_msg(nd != NULL, "%s", err.msg);
  ep_netdir_free(nd);
  ck_assert_uint_eq(st.n_requests, 3);
  /* The files, under the network's key. */
  char key[32], sub[512];
  ep_dirclient_network_key(net->auths, key, sizeof key);
  ck_assert_uint_eq(strlen(key), 20);
  snprintf(sub, sizeof sub, "%s/%s", dir, key);
  ep_cache_t *c = ep_cache_open(sub, &err);
  ck_assert_ptr_nonnull(c);
  time_t mt;
  ck_assert_int_eq(ep_cache_mtime(c, "consensus-microdesc", &mt, &err), EP_OK);
  ck_assert_int_eq(ep_cache_mtime(c, "certs", &mt, &err), EP_OK);
  ck_assert_int_eq(ep_cache_mtime(c, "microdescs", &mt, &err), EP_OK);

  /* Second run: nothing asked of the network (which is now down). */
  for (size_t i = 0; i < 3; i++) {
    close(net->srv[i].lfd);
    net->srv[i].lfd = -1;
  }
  nd = fetch(&o, &st, &err);
  ck_assert_msg(nd != NULL, "%s", err.msg);
  ck_assert_str_eq(st.consensus_from, "cache");
  ck_assert(st.certs_from_cache);
  ck_assert_uint_eq(st.n_requests, 0);
  ck_assert_uint_eq(st.md_from_cache, 15);
  ck_assert_uint_eq(st.md_fetched, 0);
  ck_assert_uint_eq(st.sigs_good, 3);
  ck_assert_uint_eq(n_exits_25(nd), 10);
  ep_netdir_free(nd);
  ck_assert_msg(strstr(logged(), "using the cached consensus-microdesc") != NULL, "%s", logged());

  /* Past valid-until the cached one is not used: fetching fails here. */
  o.now = sample_va() + 21;
  nd = fetch(&o, &st, &err);
  ck_assert_ptr_null(nd);
  ck_assert_msg(strstr(logged(), "expired at 2026-11-25 04:33:40: fetching a new one") != NULL, "%s",
                logged());

  /* A cache whose consensus was tampered with is not trusted. */
  o.now = sample_va() + 5;
  uint8_t *text;
  size_t len;
  ck_assert_int_eq(ep_cache_read(c, "consensus-microdesc", 1u << 20, &text, &len, &err), EP_OK);
  char *p = strstr((char *)text, "r exit9 ");
  ck_assert_ptr_nonnull(p);
  p[2] = 'E';
  ck_assert_int_eq(ep_cache_write(c, "consensus-microdesc", text, len, &err), EP_OK);
  free(text);
  nd = fetch(&o, &st, &err);
  ck_assert_ptr_null(nd);
  ck_assert_msg(strstr(logged(), "cache: microdesc consensus: 0 good signatures") != NULL, "%s",
                logged());
  ep_cache_free(c);
  net_free(net);
  rm_rf(dir);
}
END_TEST

START_TEST(cache_fetches_only_missing_microdescs) {
  char *dir = tmpdir();
  tnet_t *net = net_new(B_OK, B_OK, B_OK);
  ep_dirclient_opts_t o;
  opts_for(&o, net);
  o.no_cache = false;
  o.cache_dir = dir;
  ep_err_t err = {0};
  char key[32], sub[512];
  ep_dirclient_network_key(net->auths, key, sizeof key);
  snprintf(sub, sizeof sub, "%s/%s", dir, key);
  ep_cache_t *c = ep_cache_open(sub, &err);
  ck_assert_ptr_nonnull(c);
  /* The cache holds 10 of the 15 microdescriptors (and some garbage). */
  ep_buf_t b;
  ep_buf_init(&b, 1u << 20, "md", 0);
  for (size_t i = 0; i < 10; i++) {
    const ep_microdesc_t *md = ep_microdescs_get(net->mds, i);
    ep_buf_append(&b, md->body, md->body_len, NULL);
  }
  ck_assert_int_eq(ep_cache_write(c, "microdescs", b.data, b.len, &err), EP_OK);
  ep_buf_free(&b);
  ep_dirclient_stats_t st;
  ep_netdir_t *nd = fetch(&o, &st, &err);
  ck_assert_msg(nd != NULL, "%s", err.msg);
  ck_assert_uint_eq(st.md_from_cache, 10);
  ck_assert_uint_eq(st.md_fetched, 5);
  ck_assert_uint_eq(ep_netdir_n_missing_md(nd), 0);
  /* The request named exactly the 5 missing digests. */
  const char *path = net->srv[0].paths[2];
  ck_assert_msg(strncmp(path, "/tor/micro/d/", 13) == 0, "%s", path);
  ck_assert_uint_eq(strlen(path), 13 + 5 * 43 + 4);
  ep_netdir_free(nd);
  /* The cache now holds all 15. */
  uint8_t *text;
  size_t len;
  ck_assert_int_eq(ep_cache_read(c, "microdescs", 1u << 20, &text, &len, &err), EP_OK);
  ep_microdescs_t *back = ep_microdescs_parse((const char *)text, len, 0, &err);
  ck_assert_uint_eq(ep_microdescs_count(back), 15);
  ep_microdescs_free(back);
  free(text);
  ep_cache_free(c);
  net_free(net);
  rm_rf(dir);
}
END_TEST

START_TEST(microdescs_in_batches) {
  tnet_t *net = net_new(B_OK, B_OK, B_OK);
  ep_dirclient_opts_t o;
  opts_for(&o, net);
  o.md_batch = 4;
  o.parallel = 2;
  ep_dirclient_stats_t st;
  ep_err_t err = {0};
  ep_netdir_t *nd = fetch(&o, &st, &err);
  ck_assert_msg(nd != NULL, "%s", err.msg);
  ck_assert_uint_eq(st.md_fetched, 15);
  ck_assert_uint_eq(st.n_requests, 2 + 4);  /* 4 + 4 + 4 + 3 */
  /* Batches are spread over the authorities, each at most 4 digests. */
  size_t batches = 0;
  for (size_t i = 0; i < 3; i++) {
    for (int k = 0; k < atomic_load(&net->srv[i].n_req) && k < MAX_PATHS; k++) {
      const char *p = net->srv[i].paths[k];
      if (strncmp(p, "/tor/micro/d/", 13) == 0) {
        batches++;
        size_t dashes = 0;
        for (const char *q = p; *q != '\0'; q++) {
          dashes += *q == '-';
        }
        ck_assert_uint_le(dashes, 3);
      }
    }
    ck_assert_int_ge(atomic_load(&net->srv[i].n_req), 1);
  }
  ck_assert_uint_eq(batches, 4);
  ep_netdir_free(nd);
  net_free(net);
}
END_TEST

START_TEST(missing_microdescs_asked_elsewhere) {
  capture_log();
  tnet_t *net = net_new(B_MD_PARTIAL, B_OK, B_OK);
  ep_dirclient_opts_t o;
  opts_for(&o, net);
  ep_dirclient_stats_t st;
  ep_err_t err = {0};
  ep_netdir_t *nd = fetch(&o, &st, &err);
  ck_assert_msg(nd != NULL, "%s", err.msg);
  ck_assert_uint_eq(st.md_fetched, 15);
  ck_assert_uint_eq(ep_netdir_n_missing_md(nd), 0);
  ck_assert_int_eq(atomic_load(&net->srv[1].n_req), 1);
  ck_assert_uint_eq(strlen(net->srv[1].paths[0]), 13 + 43);
  ck_assert_msg(strstr(logged(), "1 microdescriptor did not come from that authority") != NULL, "%s",
                logged());
  ep_netdir_free(nd);
  net_free(net);

  /* When no authority has them, the relays are left out, said so. */
  capture_log();
  net = net_new(B_MD_PARTIAL, B_MD_PARTIAL, B_MD_PARTIAL);
  opts_for(&o, net);
  nd = fetch(&o, &st, &err);
  ck_assert_msg(nd != NULL, "%s", err.msg);
  ck_assert_uint_eq(st.md_missing, 1);
  ck_assert_uint_eq(ep_netdir_n_missing_md(nd), 1);
  ck_assert_msg(strstr(logged(), "1 microdescriptor could not be had from any authority; its relay "
                                 "is left out") != NULL,
                "%s", logged());
  ep_netdir_free(nd);
  net_free(net);
}
END_TEST

START_TEST(overall_deadline) {
  tnet_t *net = net_new(B_HANG, B_HANG, B_HANG);
  ep_dirclient_opts_t o;
  opts_for(&o, net);
  o.request_timeout_ms = 10000;
  o.timeout_ms = 300;
  ep_dirclient_stats_t st;
  ep_err_t err = {0};
  int64_t t0 = ep_now_ms();
  ep_netdir_t *nd = fetch(&o, &st, &err);
  ck_assert_ptr_null(nd);
  ck_assert_int_eq(err.code, EP_ERR_TIMEOUT);
  ck_assert_msg(strstr(err.msg, "not complete within 300 ms: still waiting for the consensus (") !=
                    NULL && strstr(err.msg, "unanswered, none failed)") != NULL,
                "%s", err.msg);
  ck_assert_int_lt(ep_now_ms() - t0, 3000);
  net_free(net);
}
END_TEST

static void never_called(void *arg, ep_netdir_t *nd, const ep_dirclient_stats_t *st,
                         const ep_err_t *err) {
  (void)arg;
  (void)nd;
  (void)st;
  (void)err;
  ck_abort_msg("a cancelled client called back");
}

START_TEST(cancel_midway) {
  tnet_t *net = net_new(B_HANG, B_OK, B_OK);
  ep_dirclient_opts_t o;
  opts_for(&o, net);
  ep_err_t err = {0};
  ep_loop_t *loop = ep_loop_new(&err);
  ep_dirclient_t *dc = ep_dirclient_start(loop, &o, never_called, NULL, &err);
  ck_assert_ptr_nonnull(dc);
  ep_loop_run_until(loop, NULL, NULL, ep_now_ms() + 100, &err);
  ep_dirclient_cancel(dc);
  ck_assert_uint_eq(ep_loop_timer_count(loop), 0);
  ck_assert_int_eq(ep_loop_run_until(loop, NULL, NULL, ep_now_ms() + 50, &err), EP_LOOP_IDLE);
  ep_loop_free(loop);
  /* No authorities at all: refused at once. */
  ep_dir_authset_t empty;
  memset(&empty, 0, sizeof empty);
  o.auths = &empty;
  loop = ep_loop_new(&err);
  ck_assert_ptr_null(ep_dirclient_start(loop, &o, never_called, NULL, &err));
  ck_assert_msg(strstr(err.msg, "no v3 directory authorities") != NULL, "%s", err.msg);
  ep_loop_free(loop);
  net_free(net);
}
END_TEST

/* ---- a transport of our own: documents from memory, no sockets ---- */

typedef struct memreq {
  ep_loop_t *loop;
  ep_timer_id_t t;
  ep_dir_reply_cb cb;
  void *arg;
  char *path;
  tnet_t *net;
} memreq_t;

static int mem_calls;

static void mem_fire(ep_loop_t *loop, void *arg) {
  (void)loop;
  memreq_t *q = arg;
  ep_dir_reply_t r;
  memset(&r, 0, sizeof r);
  r.status = 200;
  snprintf(r.reason, sizeof r.reason, "OK");
  const char *src = NULL;
  size_t n = 0;
  if (strcmp(q->path, "/tor/status-vote/current/consensus-microdesc") == 0) {
    src = q->net->cons;
    n = q->net->cons_len;
  } else if (strncmp(q->path, "/tor/keys/", 10) == 0) {
    src = q->net->keys;
    n = q->net->keys_len;
  } else {
    src = q->net->micro;
    n = q->net->micro_len;
  }
  r.body = malloc(n + 1);
  memcpy(r.body, src, n);
  r.body[n] = 0;
  r.body_len = n;
  r.wire_len = n;
  ep_dir_reply_cb cb = q->cb;
  void *cbarg = q->arg;
  free(q->path);
  free(q);
  cb(cbarg, EP_OK, &r, NULL);
  ep_dir_reply_clear(&r);
}

static void *mem_start(void *self, ep_loop_t *loop, const ep_dir_server_t *srv, const char *path,
                       const ep_http_limits_t *lim, ep_dir_reply_cb cb, void *arg, ep_err_t *err) {
  (void)srv;
  (void)lim;
  (void)err;
  mem_calls++;
  memreq_t *q = calloc(1, sizeof *q);
  q->loop = loop;
  q->cb = cb;
  q->arg = arg;
  q->path = strdup(path);
  q->net = self;
  q->t = ep_loop_timer_in(loop, 0, mem_fire, q);
  return q;
}

static void mem_cancel(void *self, void *handle) {
  (void)self;
  memreq_t *q = handle;
  ep_loop_timer_cancel(q->loop, q->t);
  free(q->path);
  free(q);
}

START_TEST(pluggable_transport) {
  tnet_t *net = net_new(B_REFUSE, B_REFUSE, B_REFUSE);  /* sockets are not used */
  ep_dir_transport_t tr = {"memory", 1000, mem_start, mem_cancel, net};
  ep_dirclient_opts_t o;
  opts_for(&o, net);
  o.transport = &tr;
  o.md_batch = 5;
  ep_dirclient_stats_t st;
  ep_err_t err = {0};
  mem_calls = 0;
  ep_netdir_t *nd = fetch(&o, &st, &err);
  ck_assert_msg(nd != NULL, "%s", err.msg);
  ck_assert_int_eq(mem_calls, 2 + 3);
  ck_assert_uint_eq(ep_netdir_n_missing_md(nd), 0);
  ep_netdir_free(nd);
  /* Batches of 5: three requests. A short max_path cuts batches to fit:
   * with 200 bytes, (200 - 13) / 44 = 4 digests per request. */
  tr.max_path = 200;
  o.md_batch = 256;
  o.parallel = 1;
  mem_calls = 0;
  nd = fetch(&o, &st, &err);
  ck_assert_msg(nd != NULL, "%s", err.msg);
  /* The first answer carries all 15: the other batches are not sent. */
  ck_assert_int_eq(mem_calls, 2 + 1);
  ep_netdir_free(nd);
  net_free(net);
}
END_TEST

/* The shared parse, warn and join step: fetched documents (where NULL) and
 * documents from a file (where named) differ only in the words. */
START_TEST(join_step_fetched_and_file) {
  capture_log();
  size_t n;
  char *ctext = read_text("dirclient/consensus-microdesc", &n);
  ep_err_t err = {0};
  ep_consensus_t *c = ep_consensus_parse(ctext, n, &err);
  free(ctext);
  ck_assert_msg(c != NULL, "%s", err.msg);
  ep_netdir_t *nd = ep_netdir_new(c, &err);
  ck_assert_ptr_nonnull(nd);
  char *md = read_text("dirclient/micro-d", &n);
  /* The first microdescriptor made malformed: skipped and named. */
  char *k = strstr(md, "ntor-onion-key ");
  ck_assert_ptr_nonnull(k);
  memcpy(k + 15, "!!", 2);
  ep_dirjoin_counts_t cnt;
  ck_assert_int_eq(ep_dirjoin(nd, EP_DIRJOIN_MICRODESCS, (const uint8_t *)md, n, NULL, 0, &cnt,
                              &err),
                   EP_OK);
  ck_assert_uint_eq(cnt.used, 14);
  ck_assert_uint_eq(cnt.invalid, 1);
  ck_assert_uint_eq(ep_netdir_n_missing_md(nd), 1);
  const char *log = logged();
  ck_assert_msg(strstr(log, "1 malformed microdescriptor skipped (first: ") != NULL, "%s", log);
  ck_assert_msg(strstr(log, "bad ntor-onion-key") != NULL, "%s", log);
  /* Again, as from a file: the file names the warning; nothing new joins. */
  ck_assert_int_eq(ep_dirjoin(nd, EP_DIRJOIN_MICRODESCS, (const uint8_t *)md, n, "md.txt", 0,
                              &cnt, &err),
                   EP_OK);
  ck_assert_uint_eq(cnt.used, 0);
  log = logged();
  ck_assert_msg(strstr(log, "md.txt: 1 malformed microdescriptor(s) skipped (first: ") != NULL,
                "%s", log);
  free(md);
  /* Server descriptors: all 15 verify and join. */
  char *sd = read_text("dirclient/server-all", &n);
  ck_assert_int_eq(ep_dirjoin(nd, EP_DIRJOIN_DESCS, (const uint8_t *)sd, n, NULL,
                              sample_va() + 5, &cnt, &err),
                   EP_OK);
  ck_assert_uint_eq(cnt.used, 15);
  ck_assert_uint_eq(cnt.rejected, 0);
  /* A year later they are rejected: counted and warned about, not an error. */
  ck_assert_int_eq(ep_dirjoin(nd, EP_DIRJOIN_DESCS, (const uint8_t *)sd, n, "sd.txt",
                              sample_va() + 400 * 86400, &cnt, &err),
                   EP_OK);
  ck_assert_uint_eq(cnt.used + cnt.rejected, 15);
  ck_assert_uint_gt(cnt.rejected, 0);
  log = logged();
  ck_assert_msg(strstr(log, "sd.txt: ") != NULL && strstr(log, "server descriptor(s) rejected") !=
                    NULL,
                "%s", log);
  free(sd);
  /* A list that does not parse at all: an error, named by where it was read. */
  const char *junk = "onion-key\n-----BEGIN RSA PUBLIC KEY-----\n";
  memset(&err, 0, sizeof err);
  ck_assert_int_ne(ep_dirjoin(nd, EP_DIRJOIN_DESCS, (const uint8_t *)junk, strlen(junk), "junk",
                              0, &cnt, &err),
                   EP_OK);
  ck_assert_msg(strncmp(err.msg, "junk: ", 6) == 0, "%s", err.msg);
  ep_netdir_free(nd);
}
END_TEST

/* A transport built from raw HTTP fetches (dirtransport.h) whose first
 * server is down: the client moves on, and every fetch it opened is either
 * answered or closed. */
typedef struct fake_http {
  int opens, refused, closes;
} fake_http_t;

static void *fake_open(void *ctx, ep_loop_t *loop, const ep_dir_server_t *srv, const char *path,
                       const ep_http_limits_t *lim, ep_http_fetch_cb cb, void *arg,
                       ep_err_t *err) {
  fake_http_t *f = ctx;
  f->opens++;
  if (strcmp(srv->name, "auth0") == 0) {
    f->refused++;
    ep_err_set(err, EP_ERR_IO, "fake transport: auth0 is down");
    return NULL;
  }
  return ep_http_fetch(loop, "127.0.0.1", srv->dir_port, path, lim, cb, arg, err);
}

static void fake_close(void *fetch) { ep_http_fetch_cancel(fetch); }

START_TEST(http_transport_one_authority_down) {
  capture_log();
  tnet_t *net = net_new(B_OK, B_OK, B_OK);
  fake_http_t f = {0};
  ep_dir_http_transport_t h;
  ep_dir_http_transport_init(&h, "fake", 3900, fake_open, fake_close, &f);
  ep_dirclient_opts_t o;
  opts_for(&o, net);
  o.transport = &h.t;
  ep_dirclient_stats_t st;
  ep_err_t err = {0};
  ep_netdir_t *nd = fetch(&o, &st, &err);
  ck_assert_msg(nd != NULL, "%s", err.msg);
  ck_assert_int_ge(f.refused, 1);
  ck_assert_uint_eq(ep_netdir_n_missing_md(nd), 0);
  const char *log = logged();
  ck_assert_int_eq(atomic_load(&net->srv[0].n_req), 0);
  char want[128];
  snprintf(want, sizeof want, "authority auth0 127.0.0.1:%u: consensus-microdesc: fake transport: "
           "auth0 is down", (unsigned)net->srv[0].port);
  ck_assert_msg(strstr(log, want) != NULL, "%s", log);
  snprintf(want, sizeof want, "auth1 127.0.0.1:%u", (unsigned)net->srv[1].port);
  ck_assert_str_eq(st.consensus_from, want);
  ep_netdir_free(nd);
  /* The DirPort transport describes servers by their DirPort, "orport"
   * ones by their ORPort. */
  ep_dir_server_t s = {.name = "x", .ipv4 = 0x7f000001, .dir_port = 7000, .or_port = 5000};
  char d[64];
  ep_dir_transport_describe(ep_dir_transport_dirport(), &s, d, sizeof d);
  ck_assert_str_eq(d, "x 127.0.0.1:7000");
  ep_dir_http_transport_init(&h, "orport", 3000, fake_open, fake_close, &f);
  ep_dir_transport_describe(&h.t, &s, d, sizeof d);
  ck_assert_str_eq(d, "x 127.0.0.1:5000");
  net_free(net);
}
END_TEST

START_TEST(reply_from_http_response) {
  ep_err_t err = {0};
  ep_http_resp_t *r = ep_http_resp_new("test", NULL, &err);
  const char *resp = "HTTP/1.0 404 Not \x01found\r\nContent-Length: 3\r\n\r\nabc";
  ep_http_resp_feed(r, (const uint8_t *)resp, strlen(resp), &err);
  ep_dir_reply_t rep;
  /* The parser refuses control characters in the head: an error, no reply. */
  if (ep_http_resp_complete(r)) {
    ck_assert_int_eq(ep_dir_reply_from_http(r, &rep, &err), EP_OK);
    ep_dir_reply_clear(&rep);
  }
  ep_http_resp_free(r);
  r = ep_http_resp_new("test", NULL, &err);
  resp = "HTTP/1.0 404 Not found\r\nContent-Length: 3\r\n\r\nabc";
  ck_assert_int_eq(ep_http_resp_feed(r, (const uint8_t *)resp, strlen(resp), &err), EP_OK);
  ck_assert_int_eq(ep_dir_reply_from_http(r, &rep, &err), EP_OK);
  ck_assert_int_eq(rep.status, 404);
  ck_assert_str_eq(rep.reason, "Not found");
  ck_assert_uint_eq(rep.body_len, 3);
  ck_assert_str_eq((char *)rep.body, "abc");
  ck_assert_uint_eq(rep.wire_len, 3);
  ck_assert_int_eq(rep.enc, EP_HTTP_ENC_IDENTITY);
  ep_dir_reply_clear(&rep);
  ep_dir_reply_clear(&rep);
  ck_assert_ptr_null(rep.body);
  ep_http_resp_free(r);
  ep_dir_server_t s;
  memset(&s, 0, sizeof s);
  snprintf(s.name, sizeof s.name, "moria1");
  s.ipv4 = 0x801f0022;
  s.dir_port = 9131;
  char d[64];
  ep_dir_server_describe(&s, d, sizeof d);
  ck_assert_str_eq(d, "moria1 128.31.0.34:9131");
}
END_TEST

/* ---- offline ---- */

START_TEST(offline_files) {
  ep_err_t err = {0};
  ep_dirclient_opts_t o;
  ep_dirclient_opts_default(&o);
  size_t n;
  char *torrc = read_text("dirclient/dirauthorities", &n);
  ep_dir_authset_t *auths = ep_dir_authset_parse(torrc, n, "dirauthorities", &err);
  free(torrc);
  ck_assert_ptr_nonnull(auths);
  o.auths = auths;
  o.no_cache = true;
  char cons[1024], md[1024], certs[1024], descs[1024];
  snprintf(cons, sizeof cons, "%s", tu_data_path("dirclient/consensus-microdesc"));
  snprintf(md, sizeof md, "%s", tu_data_path("dirclient/micro-d"));
  snprintf(certs, sizeof certs, "%s", tu_data_path("dirclient/keys-all"));
  snprintf(descs, sizeof descs, "%s", tu_data_path("dirclient/server-all"));
  const char *mds[] = {md}, *dls[] = {descs};
  ep_dirclient_files_t f = {.consensus = cons, .microdescs = mds, .n_microdescs = 1, .certs = certs};
  /* Live check against a fixed now. */
  o.now = sample_va() + 5;
  ep_dirclient_stats_t st;
  ep_netdir_t *nd = ep_dirclient_load_files(&f, &o, &st, &err);
  ck_assert_msg(nd != NULL, "%s", err.msg);
  ck_assert_uint_eq(st.md_from_cache, 15);
  ck_assert_str_eq(st.consensus_from, "file");
  ck_assert_uint_eq(n_exits_25(nd), 10);
  ep_netdir_free(nd);
  /* Two hours later it is not live... */
  o.now = sample_va() + 7200;
  nd = ep_dirclient_load_files(&f, &o, &st, &err);
  ck_assert_ptr_null(nd);
  ck_assert_int_eq(err.code, EP_ERR_EXPIRED);
  ck_assert_msg(strstr(err.msg, "consensus-microdesc: microdesc consensus: expired at") != NULL,
                "%s", err.msg);
  /* ...but reasonably live at that time (--at), up to 24 h. */
  f.has_at = true;
  f.at = sample_va() + 7200;
  nd = ep_dirclient_load_files(&f, &o, &st, &err);
  ck_assert_msg(nd != NULL, "%s", err.msg);
  ep_netdir_free(nd);
  f.at = sample_va() + 20 + 24 * 3600 + 1;
  nd = ep_dirclient_load_files(&f, &o, &st, &err);
  ck_assert_ptr_null(nd);
  ck_assert_msg(strstr(err.msg, "not even reasonably live") != NULL, "%s", err.msg);
  f.at = sample_va() + 5;
  /* Full policies from server descriptors. */
  f.descs = dls;
  f.n_descs = 1;
  nd = ep_dirclient_load_files(&f, &o, &st, &err);
  ck_assert_msg(nd != NULL, "%s", err.msg);
  ck_assert_uint_eq(st.descs_used, 15);
  ep_netdir_free(nd);
  f.n_descs = 0;
  /* No certificates and no cache: refused, saying what to give. */
  f.certs = NULL;
  nd = ep_dirclient_load_files(&f, &o, &st, &err);
  ck_assert_ptr_null(nd);
  ck_assert_msg(strstr(err.msg, "give --certs FILE") != NULL, "%s", err.msg);
  /* The wrong authorities: nobody trusted signed it. */
  f.certs = certs;
  o.auths = ep_dir_authset_builtin();
  nd = ep_dirclient_load_files(&f, &o, &st, &err);
  ck_assert_ptr_null(nd);
  ck_assert_int_eq(err.code, EP_ERR_VERIFY);
  ck_assert_msg(strstr(err.msg, "not a trusted authority") != NULL, "%s", err.msg);
  o.auths = auths;
  /* A missing file, and a compressed consensus. */
  f.consensus = "/nonexistent/consensus";
  nd = ep_dirclient_load_files(&f, &o, &st, &err);
  ck_assert_ptr_null(nd);
  ck_assert_msg(strstr(err.msg, "/nonexistent/consensus: cannot open") != NULL, "%s", err.msg);
  char *dir = tmpdir();
  char zpath[600];
  snprintf(zpath, sizeof zpath, "%s/consensus.z", dir);
  char *text = read_text("dirclient/consensus-microdesc", &n);
  uLongf zl = compressBound((uLong)n);
  uint8_t *z = malloc(zl);
  ck_assert_int_eq(compress2(z, &zl, (const Bytef *)text, (uLong)n, 9), Z_OK);
  FILE *fp = fopen(zpath, "wb");
  ck_assert_uint_eq(fwrite(z, 1, zl, fp), zl);
  fclose(fp);
  f.consensus = zpath;
  nd = ep_dirclient_load_files(&f, &o, &st, &err);
  ck_assert_msg(nd != NULL, "%s", err.msg);
  ep_netdir_free(nd);
  /* A malformed consensus names the file and the line. */
  memcpy(strstr(text, "valid-until"), "valid-untiX", 11);
  fp = fopen(zpath, "wb");
  fwrite(text, 1, n, fp);
  fclose(fp);
  nd = ep_dirclient_load_files(&f, &o, &st, &err);
  ck_assert_ptr_null(nd);
  ck_assert_msg(strstr(err.msg, "consensus.z: ") != NULL && strstr(err.msg, "line ") != NULL, "%s",
                err.msg);
  free(z);
  free(text);
  rm_rf(dir);
  ep_dir_authset_free(auths);
}
END_TEST

START_TEST(offline_2022_public_network) {
  ep_err_t err = {0};
  ep_dirclient_opts_t o;
  ep_dirclient_opts_default(&o);
  o.no_cache = true;
  char cons[1024], md[1024], certs[1024];
  snprintf(cons, sizeof cons, "%s", tu_data_path("dir/consensus-md-2022-11-19"));
  snprintf(md, sizeof md, "%s", tu_data_path("dir/microdescs-2022-11-19"));
  snprintf(certs, sizeof certs, "%s", tu_data_path("dir/cached-certs-2022-11-19"));
  const char *mds[] = {md};
  ep_dirclient_files_t f = {.consensus = cons, .microdescs = mds, .n_microdescs = 1, .certs = certs,
                            .has_at = true};
  ck_assert_int_eq(ep_time_parse_tor("2022-11-19 10:30:00", 19, &f.at), 0);
  /* With the authorities of 2022. */
  ep_dir_authset_t *a2022 = ep_dir_authset_load(tu_data_path("dir/authorities-2022-11-19.torrc"),
                                                &err);
  ck_assert_msg(a2022 != NULL, "%s", err.msg);
  o.auths = a2022;
  ep_dirclient_stats_t st;
  int64_t t0 = ep_now_ms();
  ep_netdir_t *nd = ep_dirclient_load_files(&f, &o, &st, &err);
  ck_assert_msg(nd != NULL, "%s", err.msg);
  fprintf(stderr, "offline 2022: parse+verify+join %lld ms\n", (long long)(ep_now_ms() - t0));
  ck_assert_uint_eq(st.sigs_good, 8);
  ck_assert_uint_eq(st.auths_known, 9);
  ck_assert_uint_eq(st.md_from_cache, 1722);
  ck_assert_uint_eq(n_exits_25(nd), 8);
  ep_netdir_free(nd);
  ep_dir_authset_free(a2022);
}
END_TEST

/* --dir-authorities wins; else $EXITPROBE_DIR_AUTHORITIES when not empty;
 * else none (the built-in public authorities). */
START_TEST(authorities_path_from_option_or_environment) {
  const char *saved = getenv("EXITPROBE_DIR_AUTHORITIES");
  char *keep = saved != NULL ? strdup(saved) : NULL;
  unsetenv("EXITPROBE_DIR_AUTHORITIES");
  ck_assert_ptr_null(ep_dirclient_authorities_path(NULL));
  ck_assert_str_eq(ep_dirclient_authorities_path("given.torrc"), "given.torrc");
  setenv("EXITPROBE_DIR_AUTHORITIES", "", 1);
  ck_assert_ptr_null(ep_dirclient_authorities_path(NULL));
  setenv("EXITPROBE_DIR_AUTHORITIES", "/tmp/net/dirauthorities", 1);
  ck_assert_str_eq(ep_dirclient_authorities_path(NULL), "/tmp/net/dirauthorities");
  ck_assert_str_eq(ep_dirclient_authorities_path("given.torrc"), "given.torrc");
  if (keep != NULL) {
    setenv("EXITPROBE_DIR_AUTHORITIES", keep, 1);
    free(keep);
  } else {
    unsetenv("EXITPROBE_DIR_AUTHORITIES");
  }
}
END_TEST

static Suite *suite(void) {
  Suite *s = suite_create("dirclient");
  TCase *tc = tcase_create("fetch");
  tcase_set_timeout(tc, 60);
  tcase_add_test(tc, good_fetch_verifies_and_joins);
  tcase_add_test(tc, authorities_path_from_option_or_environment);
  tcase_add_test(tc, identity_encoding_works_too);
  tcase_add_test(tc, refused_first_authority);
  tcase_add_test(tc, hanging_first_authority);
  tcase_add_test(tc, closing_first_authority);
  tcase_add_test(tc, busy_first_authority);
  tcase_add_test(tc, deflate_bomb_from_first_authority);
  tcase_add_test(tc, truncated_body_from_first_authority);
  tcase_add_test(tc, truncated_document_from_first_authority);
  tcase_add_test(tc, wrong_flavour_from_first_authority);
  tcase_add_test(tc, every_authority_broken);
  tcase_add_test(tc, too_few_signatures);
  tcase_add_test(tc, only_first_authority_short_of_signatures);
  tcase_add_test(tc, expired_consensus);
  tcase_add_test(tc, microdescs_in_batches);
  tcase_add_test(tc, missing_microdescs_asked_elsewhere);
  tcase_add_test(tc, overall_deadline);
  tcase_add_test(tc, cancel_midway);
  tcase_add_test(tc, pluggable_transport);
  tcase_add_test(tc, reply_from_http_response);
  tcase_add_test(tc, http_transport_one_authority_down);
  tcase_add_test(tc, join_step_fetched_and_file);
  suite_add_tcase(s, tc);
  tc = tcase_create("cache");
  tcase_set_timeout(tc, 60);
  tcase_add_test(tc, cache_reuses_a_live_consensus);
  tcase_add_test(tc, cache_fetches_only_missing_microdescs);
  suite_add_tcase(s, tc);
  tc = tcase_create("offline");
  tcase_set_timeout(tc, 120);
  tcase_add_test(tc, offline_files);
  tcase_add_test(tc, offline_2022_public_network);
  suite_add_tcase(s, tc);
  return s;
}

int main(void) {
  ep_crypto_init();
  return tu_run_suite(suite());
}
