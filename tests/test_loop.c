/* exitprobe — unit tests of the event loop, TCP connects and TLS (all on
 * 127.0.0.1; the TLS server runs in the same loop as the client). */
#include "config.h"

#include <arpa/inet.h>
#include <check.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "lib/caps.h"
#include "lib/crypto.h"
#include "lib/timeutil.h"
#include "probe/net/loop.h"
#include "probe/net/net.h"
#include "probe/net/tls.h"
#include "testutil.h"

/* ---- helpers ---- */

static ep_loop_t *new_loop(void) {
  ep_err_t err = {0};
  ep_loop_t *loop = ep_loop_new(&err);
  ck_assert_msg(loop != NULL, "%s", err.msg);
  return loop;
}

/* A listening socket on 127.0.0.1 with a kernel-chosen port. */
static int listen_local(uint16_t *port) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  ck_assert_int_ge(fd, 0);
  struct sockaddr_in sa;
  memset(&sa, 0, sizeof sa);
  sa.sin_family = AF_INET;
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ck_assert_int_eq(bind(fd, (struct sockaddr *)&sa, sizeof sa), 0);
  ck_assert_int_eq(listen(fd, 8), 0);
  socklen_t len = sizeof sa;
  ck_assert_int_eq(getsockname(fd, (struct sockaddr *)&sa, &len), 0);
  *port = ntohs(sa.sin_port);
  return fd;
}

/* A port on 127.0.0.1 that nothing listens on (bound, then released). */
static uint16_t closed_port(void) {
  uint16_t port;
  int fd = listen_local(&port);
  close(fd);
  return port;
}

/* ---- timers ---- */

typedef struct order_log {
  int seen[2048];
  int n;
} order_log_t;

typedef struct targ {
  order_log_t *log;
  int tag;
} targ_t;

static void log_timer(ep_loop_t *loop, void *arg) {
  (void)loop;
  targ_t *t = arg;
  t->log->seen[t->log->n++] = t->tag;
}

START_TEST(timers_fire_in_deadline_order) {
  ep_loop_t *loop = new_loop();
  order_log_t log = {.n = 0};
  targ_t a[5];
  for (int i = 0; i < 5; i++) {
    a[i].log = &log;
    a[i].tag = i;
  }
  int64_t t0 = ep_now_ms();
  ep_loop_timer_at(loop, t0 + 60, log_timer, &a[0]);
  ep_loop_timer_at(loop, t0 + 20, log_timer, &a[1]);
  ep_timer_id_t gone = ep_loop_timer_at(loop, t0 + 10, log_timer, &a[2]);
  ep_loop_timer_at(loop, t0 + 40, log_timer, &a[3]);
  ep_loop_timer_at(loop, t0 + 20, log_timer, &a[4]); /* ties: creation order */
  ck_assert_uint_eq(ep_loop_timer_count(loop), 5);
  ck_assert_int_eq(ep_loop_timer_cancel(loop, gone), 0);
  ck_assert_int_eq(ep_loop_timer_cancel(loop, gone), -1); /* twice: harmless */
  ck_assert_int_eq(ep_loop_timer_cancel(loop, 0), -1);
  ck_assert_uint_eq(ep_loop_timer_count(loop), 4);

  ep_err_t err = {0};
  int rc = ep_loop_run_until(loop, NULL, NULL, EP_LOOP_NO_DEADLINE, &err);
  ck_assert_int_eq(rc, EP_LOOP_IDLE);
  ck_assert_int_ge(ep_now_ms() - t0, 60);
  ck_assert_int_eq(log.n, 4);
  ck_assert_int_eq(log.seen[0], 1);
  ck_assert_int_eq(log.seen[1], 4);
  ck_assert_int_eq(log.seen[2], 3);
  ck_assert_int_eq(log.seen[3], 0);
  ep_loop_free(loop);
}
END_TEST

START_TEST(timers_heap_many_with_cancels) {
  ep_loop_t *loop = new_loop();
  static order_log_t log;
  static targ_t a[2000];
  static ep_timer_id_t ids[2000];
  static int64_t when[2000];
  log.n = 0;
  int64_t base = ep_now_ms() - 100000; /* all due: one turn fires them all */
  uint32_t x = 12345;
  for (int i = 0; i < 2000; i++) {
    x = x * 1103515245u + 12345u;
    when[i] = base + (int64_t)(x >> 16) % 5000;
    a[i].log = &log;
    a[i].tag = i;
    ids[i] = ep_loop_timer_at(loop, when[i], log_timer, &a[i]);
    ck_assert(ids[i] != 0);
  }
  int cancelled = 0;
  for (int i = 0; i < 2000; i += 3) {
    ck_assert_int_eq(ep_loop_timer_cancel(loop, ids[i]), 0);
    cancelled++;
  }
  ck_assert_uint_eq(ep_loop_timer_count(loop), (size_t)(2000 - cancelled));
  ep_err_t err = {0};
  ck_assert_int_eq(ep_loop_run_once(loop, 0, &err), EP_OK);
  ck_assert_int_eq(log.n, 2000 - cancelled);
  for (int k = 0; k < log.n; k++) {
    int i = log.seen[k];
    ck_assert_int_ne(i % 3, 0);
    if (k > 0) {
      int j = log.seen[k - 1];
      ck_assert(when[j] < when[i] || (when[j] == when[i] && j < i));
    }
  }
  /* Fired ids are dead: cancelling them fails, new ids differ. */
  ck_assert_int_eq(ep_loop_timer_cancel(loop, ids[1]), -1);
  ep_timer_id_t again = ep_loop_timer_in(loop, 1000, log_timer, &a[0]);
  for (int i = 0; i < 2000; i++) {
    ck_assert(again != ids[i]);
  }
  ep_loop_free(loop); /* with a pending timer: dropped, not called */
}
END_TEST

typedef struct rearm {
  int fired;
  int reads;
} rearm_t;

static void rearm_timer(ep_loop_t *loop, void *arg) {
  rearm_t *r = arg;
  r->fired++;
  ep_loop_timer_in(loop, 0, rearm_timer, r);
}

static void count_read(ep_loop_t *loop, int fd, unsigned events, void *arg) {
  (void)loop;
  (void)events;
  rearm_t *r = arg;
  char b[16];
  if (read(fd, b, sizeof b) > 0) {
    r->reads++;
  }
}

static bool got_read(void *arg) { return ((rearm_t *)arg)->reads > 0; }

START_TEST(timer_rearming_at_zero_does_not_starve_io) {
  ep_loop_t *loop = new_loop();
  int sv[2];
  ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv), 0);
  rearm_t r = {0, 0};
  ep_err_t err = {0};
  ck_assert_int_eq(ep_loop_add_fd(loop, sv[0], EP_LOOP_READ, count_read, &r, &err), EP_OK);
  ep_loop_timer_in(loop, 0, rearm_timer, &r);
  ck_assert_int_eq(write(sv[1], "x", 1), 1);
  int rc = ep_loop_run_until(loop, got_read, &r, ep_now_ms() + 2000, &err);
  ck_assert_int_eq(rc, EP_LOOP_DONE);
  ck_assert_int_le(r.fired, 3);
  ep_loop_del_fd(loop, sv[0]);
  close(sv[0]);
  close(sv[1]);
  ep_loop_free(loop);
}
END_TEST

/* ---- fds ---- */

typedef struct fdlog {
  unsigned events[8];
  int fds[8];
  int n;
  int victim;  /* fd to remove from inside the callback, or -1 */
} fdlog_t;

static void log_fd(ep_loop_t *loop, int fd, unsigned events, void *arg) {
  fdlog_t *l = arg;
  if (l->n < 8) {
    l->events[l->n] = events;
    l->fds[l->n] = fd;
    l->n++;
  }
  if (l->victim >= 0) {
    ep_loop_del_fd(loop, l->victim);
    l->victim = -1;
  }
  if (events & EP_LOOP_READ) {
    char b[64];
    while (read(fd, b, sizeof b) > 0) {
    }
  }
}

START_TEST(fd_readiness_on_a_socketpair) {
  ep_loop_t *loop = new_loop();
  int sv[2];
  ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv), 0);
  fdlog_t l = {.n = 0, .victim = -1};
  ep_err_t err = {0};
  ck_assert_int_eq(ep_loop_add_fd(loop, sv[0], EP_LOOP_READ, log_fd, &l, &err), EP_OK);
  ck_assert_int_eq(ep_loop_add_fd(loop, sv[0], EP_LOOP_READ, log_fd, &l, &err), EP_ERR_STATE);
  ck_assert_uint_eq(ep_loop_fd_interest(loop, sv[0]), EP_LOOP_READ);

  /* Nothing to read: no callback. */
  ck_assert_int_eq(ep_loop_run_once(loop, 0, &err), EP_OK);
  ck_assert_int_eq(l.n, 0);
  /* Data: a read event. */
  ck_assert_int_eq(write(sv[1], "ping", 4), 4);
  ck_assert_int_eq(ep_loop_run_once(loop, 1000, &err), EP_OK);
  ck_assert_int_eq(l.n, 1);
  ck_assert_uint_eq(l.events[0], EP_LOOP_READ);
  /* Drained: quiet again (level-triggered, nothing left). */
  ck_assert_int_eq(ep_loop_run_once(loop, 0, &err), EP_OK);
  ck_assert_int_eq(l.n, 1);
  /* Write interest: writable at once. */
  ck_assert_int_eq(ep_loop_mod_fd(loop, sv[0], EP_LOOP_READ | EP_LOOP_WRITE, &err), EP_OK);
  ck_assert_int_eq(ep_loop_run_once(loop, 1000, &err), EP_OK);
  ck_assert_int_eq(l.n, 2);
  ck_assert_uint_eq(l.events[1], EP_LOOP_WRITE);
  ck_assert_int_eq(ep_loop_mod_fd(loop, sv[0], EP_LOOP_READ, &err), EP_OK);
  /* The peer hangs up: read + hup. */
  close(sv[1]);
  ck_assert_int_eq(ep_loop_run_once(loop, 1000, &err), EP_OK);
  ck_assert_int_eq(l.n, 3);
  ck_assert(l.events[2] & EP_LOOP_HUP);
  ck_assert(l.events[2] & EP_LOOP_READ);
  ep_loop_del_fd(loop, sv[0]);
  ck_assert_uint_eq(ep_loop_fd_interest(loop, sv[0]), 0);
  ck_assert_int_eq(ep_loop_mod_fd(loop, sv[0], EP_LOOP_READ, &err), EP_ERR_STATE);
  ep_loop_del_fd(loop, sv[0]); /* twice: harmless */
  close(sv[0]);
  ep_loop_free(loop);
}
END_TEST

typedef struct pairdel {
  int fd[2];
  int calls[2];
} pairdel_t;

/* Whichever of the two is called first removes the other. */
static void remove_other(ep_loop_t *loop, int fd, unsigned events, void *arg) {
  (void)events;
  pairdel_t *p = arg;
  int me = fd == p->fd[0] ? 0 : 1;
  p->calls[me]++;
  ep_loop_del_fd(loop, p->fd[1 - me]);
}

START_TEST(fd_removed_in_the_same_batch_gets_no_callback) {
  ep_loop_t *loop = new_loop();
  int a[2], b[2];
  ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, a), 0);
  ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, b), 0);
  pairdel_t p = {.fd = {a[0], b[0]}, .calls = {0, 0}};
  ep_err_t err = {0};
  ck_assert_int_eq(ep_loop_add_fd(loop, a[0], EP_LOOP_READ, remove_other, &p, &err), EP_OK);
  ck_assert_int_eq(ep_loop_add_fd(loop, b[0], EP_LOOP_READ, remove_other, &p, &err), EP_OK);
  ck_assert_int_eq(write(a[1], "x", 1), 1);
  ck_assert_int_eq(write(b[1], "y", 1), 1);
  /* Both are ready in the same epoll batch; only the first may run. */
  ck_assert_int_eq(ep_loop_run_once(loop, 1000, &err), EP_OK);
  ck_assert_int_eq(p.calls[0] + p.calls[1], 1);
  int survivor = p.calls[0] == 1 ? a[0] : b[0];
  int removed = p.calls[0] == 1 ? b[0] : a[0];
  ck_assert_uint_eq(ep_loop_fd_interest(loop, survivor), EP_LOOP_READ);
  ck_assert_uint_eq(ep_loop_fd_interest(loop, removed), 0);
  /* Re-adding the removed fd works, with a fresh registration. */
  ck_assert_int_eq(ep_loop_add_fd(loop, removed, EP_LOOP_READ, remove_other, &p, &err), EP_OK);
  ep_loop_del_fd(loop, a[0]);
  ep_loop_del_fd(loop, b[0]);
  close(a[0]);
  close(a[1]);
  close(b[0]);
  close(b[1]);
  ep_loop_free(loop);
}
END_TEST

START_TEST(run_until_deadline_and_stop) {
  ep_loop_t *loop = new_loop();
  int sv[2];
  ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv), 0);
  fdlog_t l = {.n = 0, .victim = -1};
  ep_err_t err = {0};
  ck_assert_int_eq(ep_loop_add_fd(loop, sv[0], EP_LOOP_READ, log_fd, &l, &err), EP_OK);
  int64_t t0 = ep_now_ms();
  ck_assert_int_eq(ep_loop_run_until(loop, NULL, NULL, t0 + 50, &err), EP_LOOP_DEADLINE);
  ck_assert_int_ge(ep_now_ms() - t0, 50);
  ck_assert_int_eq(ep_loop_run_until(loop, NULL, NULL, t0 - 1, &err), EP_LOOP_DEADLINE);
  ck_assert_str_eq(ep_loop_outcome_name(EP_LOOP_DEADLINE), "deadline");
  ep_loop_stop(loop);
  ck_assert(ep_loop_stopping(loop));
  ck_assert_int_eq(ep_loop_run_until(loop, NULL, NULL, EP_LOOP_NO_DEADLINE, &err), EP_LOOP_STOPPED);
  ck_assert_int_eq(ep_loop_stop_signal(loop), 0);
  ep_loop_del_fd(loop, sv[0]);
  close(sv[0]);
  close(sv[1]);
  ep_loop_free(loop);
}
END_TEST

START_TEST(sigterm_stops_the_loop) {
  ep_loop_t *loop = new_loop();
  ep_err_t err = {0};
  ck_assert_int_eq(ep_loop_catch_signals(loop, &err), EP_OK);
  /* A long timer keeps the loop from being idle. */
  order_log_t log = {.n = 0};
  targ_t a = {&log, 1};
  ep_loop_timer_in(loop, 10000, log_timer, &a);
  ck_assert_int_eq(raise(SIGTERM), 0); /* blocked: queued for the signalfd */
  int64_t t0 = ep_now_ms();
  ck_assert_int_eq(ep_loop_run_until(loop, NULL, NULL, t0 + 5000, &err), EP_LOOP_STOPPED);
  ck_assert_int_eq(ep_loop_stop_signal(loop), SIGTERM);
  ck_assert_int_lt(ep_now_ms() - t0, 1000);
  ck_assert_int_eq(log.n, 0);
  ep_loop_free(loop); /* restores the mask; the signal was consumed */
  sigset_t cur;
  ck_assert_int_eq(sigprocmask(SIG_BLOCK, NULL, &cur), 0);
  ck_assert(!sigismember(&cur, SIGTERM));
}
END_TEST

/* ---- deferred work ---- */

typedef struct dlog {
  order_log_t log;         /* first: log_defer finds the dlog from its log */
  int fd_seen_at;          /* log.n when the fd callback ran */
  int timer_seen_at;
  ep_defer_id_t victim;    /* deferral to cancel from inside a callback */
  int self_rearms;         /* deferrals still to make from inside the callback */
  targ_t tags[8];
} dlog_t;

static void log_defer(ep_loop_t *loop, void *arg) {
  targ_t *t = arg;
  t->log->seen[t->log->n++] = t->tag;
  dlog_t *d = (dlog_t *)t->log;
  if (d->victim != 0) {
    ck_assert_int_eq(ep_loop_defer_cancel(loop, d->victim), 0);
    d->victim = 0;
  }
  if (d->self_rearms > 0) {
    d->self_rearms--;
    ck_assert(ep_loop_defer(loop, log_defer, t) != 0);
  }
}

static void defer_from_fd(ep_loop_t *loop, int fd, unsigned events, void *arg) {
  (void)events;
  dlog_t *d = arg;
  char b[8];
  while (read(fd, b, sizeof b) > 0) {
  }
  d->fd_seen_at = d->log.n;
  ck_assert(ep_loop_defer(loop, log_defer, &d->tags[1]) != 0);
  ck_assert(ep_loop_defer(loop, log_defer, &d->tags[2]) != 0);
}

static void defer_from_timer(ep_loop_t *loop, void *arg) {
  dlog_t *d = arg;
  d->timer_seen_at = d->log.n;
  ck_assert(ep_loop_defer(loop, log_defer, &d->tags[3]) != 0);
}

START_TEST(deferrals_run_at_the_end_of_the_turn_in_order) {
  ep_loop_t *loop = new_loop();
  int sv[2];
  ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv), 0);
  dlog_t d;
  memset(&d, 0, sizeof d);
  for (int i = 0; i < 8; i++) {
    d.tags[i] = (targ_t){&d.log, i};
  }
  ep_err_t err = {0};
  /* Made outside a turn: runs at the start of the next turn, before it
   * waits (the turn below would otherwise block for 5 s). */
  ck_assert(ep_loop_defer(loop, log_defer, &d.tags[0]) != 0);
  ck_assert_uint_eq(ep_loop_defer_count(loop), 1);
  int64_t t0 = ep_now_ms();
  ck_assert_int_eq(ep_loop_run_once(loop, 5000, &err), EP_OK);
  ck_assert_int_lt(ep_now_ms() - t0, 1000);
  ck_assert_int_eq(d.log.n, 1);
  ck_assert_int_eq(d.log.seen[0], 0);
  /* Made by an fd callback and a timer of one turn: run after both, once
   * each, in order. */
  ck_assert_int_eq(ep_loop_add_fd(loop, sv[0], EP_LOOP_READ, defer_from_fd, &d, &err), EP_OK);
  ck_assert(ep_loop_timer_in(loop, 0, defer_from_timer, &d) != 0);
  ck_assert_int_eq(write(sv[1], "x", 1), 1);
  /* The timer armed outside a turn fires in this turn or the next. */
  for (int i = 0; i < 2 && d.log.n < 4; i++) {
    ck_assert_int_eq(ep_loop_run_once(loop, 1000, &err), EP_OK);
  }
  ck_assert_int_eq(d.fd_seen_at, 1);
  ck_assert_int_eq(d.log.n, 4);
  ck_assert_int_eq(d.log.seen[1], 1);
  ck_assert_int_eq(d.log.seen[2], 2);
  ck_assert_int_eq(d.log.seen[3], 3);
  ck_assert_uint_eq(ep_loop_defer_count(loop), 0);
  /* Cancelled: never runs; cancelling twice, or a ran one, is -1. */
  ep_defer_id_t a = ep_loop_defer(loop, log_defer, &d.tags[4]);
  ep_defer_id_t b = ep_loop_defer(loop, log_defer, &d.tags[5]);
  ck_assert_int_eq(ep_loop_defer_cancel(loop, a), 0);
  ck_assert_int_eq(ep_loop_defer_cancel(loop, a), -1);
  ck_assert_int_eq(ep_loop_defer_cancel(loop, 0), -1);
  ck_assert_uint_eq(ep_loop_defer_count(loop), 1);
  ck_assert_int_eq(ep_loop_run_once(loop, 0, &err), EP_OK);
  ck_assert_int_eq(d.log.n, 5);
  ck_assert_int_eq(d.log.seen[4], 5);
  ck_assert_int_eq(ep_loop_defer_cancel(loop, b), -1);
  /* A deferral cancelled by an earlier one of the same pass does not run. */
  ck_assert(ep_loop_defer(loop, log_defer, &d.tags[6]) != 0);
  d.victim = ep_loop_defer(loop, log_defer, &d.tags[7]);
  ck_assert_int_eq(ep_loop_run_once(loop, 0, &err), EP_OK);
  ck_assert_int_eq(d.log.n, 6);
  ck_assert_int_eq(d.log.seen[5], 6);
  ep_loop_del_fd(loop, sv[0]);
  close(sv[0]);
  close(sv[1]);
  ep_loop_free(loop);
}
END_TEST

START_TEST(a_deferral_that_defers_itself_is_bounded) {
  ep_loop_t *loop = new_loop();
  dlog_t d;
  memset(&d, 0, sizeof d);
  d.tags[0] = (targ_t){&d.log, 0};
  d.self_rearms = 100;
  ep_err_t err = {0};
  ck_assert(ep_loop_defer(loop, log_defer, &d.tags[0]) != 0);
  /* Each turn runs a bounded number of passes, the rest waits for the next
   * turn, which does not block; the loop is not idle while some remain. */
  ck_assert_int_eq(ep_loop_run_once(loop, 0, &err), EP_OK);
  ck_assert_int_gt(d.log.n, 1);
  ck_assert_int_lt(d.log.n, 101);
  int64_t t0 = ep_now_ms();
  int rc = ep_loop_run_until(loop, NULL, NULL, ep_now_ms() + 5000, &err);
  ck_assert_int_eq(rc, EP_LOOP_IDLE);
  ck_assert_int_lt(ep_now_ms() - t0, 1000);
  ck_assert_int_eq(d.log.n, 101);
  ep_loop_free(loop);
}
END_TEST

/* ---- TCP ---- */

typedef struct conn_result {
  bool done;
  int fd;
  int sys_errno;
  ep_err_t err;
} conn_result_t;

static void on_connect(void *arg, int fd, int sys_errno, const ep_err_t *err) {
  conn_result_t *r = arg;
  r->done = true;
  r->fd = fd;
  r->sys_errno = sys_errno;
  if (err != NULL) {
    r->err = *err;
  }
}

static bool conn_done(void *arg) { return ((conn_result_t *)arg)->done; }

START_TEST(tcp_connect_refused_names_the_errno) {
  ep_loop_t *loop = new_loop();
  ep_addr_t a;
  ep_err_t err = {0};
  uint16_t port = closed_port();
  ck_assert_int_eq(ep_addr_from_ip(&a, "127.0.0.1", port, &err), EP_OK);
  conn_result_t r = {.done = false, .fd = -2};
  ep_tcp_connect_t *c = ep_tcp_connect(loop, &a, 5000, on_connect, &r, &err);
  ck_assert_ptr_nonnull(c);
  ck_assert(!r.done); /* never from inside the call */
  ck_assert_int_eq(ep_loop_run_until(loop, conn_done, &r, ep_now_ms() + 5000, &err), EP_LOOP_DONE);
  ck_assert_int_eq(r.fd, -1);
  ck_assert_int_eq(r.sys_errno, ECONNREFUSED);
  ck_assert_int_eq(r.err.code, EP_ERR_IO);
  char want[96];
  snprintf(want, sizeof want, "tcp connect to 127.0.0.1:%u: ECONNREFUSED", (unsigned)port);
  ck_assert_msg(strncmp(r.err.msg, want, strlen(want)) == 0, "got: %s", r.err.msg);
  char scratch[24];
  ck_assert_str_eq(ep_errno_name(ECONNREFUSED, scratch, sizeof scratch), "ECONNREFUSED");
  ck_assert_str_eq(ep_errno_name(ETIMEDOUT, scratch, sizeof scratch), "ETIMEDOUT");
  ck_assert_str_eq(ep_errno_name(4000, scratch, sizeof scratch), "errno 4000");
  ck_assert_int_eq(ep_loop_timer_count(loop), 0); /* its timeout is gone */
  ep_loop_free(loop);
}
END_TEST

START_TEST(tcp_connect_succeeds_and_cancel_is_clean) {
  ep_loop_t *loop = new_loop();
  uint16_t port;
  int lfd = listen_local(&port);
  ep_addr_t a;
  ep_err_t err = {0};
  ck_assert_int_eq(ep_addr_from_ip(&a, "127.0.0.1", port, &err), EP_OK);
  conn_result_t r = {.done = false, .fd = -2};
  ck_assert_ptr_nonnull(ep_tcp_connect(loop, &a, 5000, on_connect, &r, &err));
  ck_assert_int_eq(ep_loop_run_until(loop, conn_done, &r, ep_now_ms() + 5000, &err), EP_LOOP_DONE);
  ck_assert_int_ge(r.fd, 0);
  ck_assert_int_eq(r.sys_errno, 0);
  ck_assert_uint_eq(ep_loop_fd_interest(loop, r.fd), 0); /* handed over unregistered */
  close(r.fd);
  /* Cancel before completion: no callback, nothing left in the loop. */
  conn_result_t r2 = {.done = false, .fd = -2};
  ep_tcp_connect_t *c = ep_tcp_connect(loop, &a, 5000, on_connect, &r2, &err);
  ck_assert_ptr_nonnull(c);
  ep_tcp_connect_cancel(c);
  ck_assert_int_eq(ep_loop_run_until(loop, NULL, NULL, ep_now_ms() + 50, &err), EP_LOOP_IDLE);
  ck_assert(!r2.done);
  close(lfd);
  ep_loop_free(loop);
}
END_TEST

static bool all_done(void *arg) {
  conn_result_t *r = arg;
  for (int i = 0; i < 4; i++) {
    if (!r[i].done) {
      return false;
    }
  }
  return true;
}

START_TEST(tcp_connect_times_out_by_our_deadline) {
  /* A listener that never accepts, with a backlog of 0: once its queue is
   * full, the kernel drops further SYNs and those connects hang. */
  ep_loop_t *loop = new_loop();
  uint16_t port;
  int lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  struct sockaddr_in sa;
  memset(&sa, 0, sizeof sa);
  sa.sin_family = AF_INET;
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ck_assert_int_eq(bind(lfd, (struct sockaddr *)&sa, sizeof sa), 0);
  ck_assert_int_eq(listen(lfd, 0), 0);
  socklen_t sl = sizeof sa;
  ck_assert_int_eq(getsockname(lfd, (struct sockaddr *)&sa, &sl), 0);
  port = ntohs(sa.sin_port);
  ep_addr_t a;
  ep_err_t err = {0};
  ck_assert_int_eq(ep_addr_from_ip(&a, "127.0.0.1", port, &err), EP_OK);
  conn_result_t r[4];
  memset(r, 0, sizeof r);
  int64_t t0 = ep_now_ms();
  for (int i = 0; i < 4; i++) {
    r[i].fd = -2;
    ck_assert_ptr_nonnull(ep_tcp_connect(loop, &a, 300, on_connect, &r[i], &err));
  }
  ck_assert_int_eq(ep_loop_run_until(loop, all_done, r, ep_now_ms() + 5000, &err), EP_LOOP_DONE);
  int timeouts = 0;
  for (int i = 0; i < 4; i++) {
    if (r[i].fd >= 0) {
      close(r[i].fd);
      continue;
    }
    ck_assert_int_eq(r[i].sys_errno, ETIMEDOUT);
    ck_assert_int_eq(r[i].err.code, EP_ERR_TIMEOUT);
    char want[128];
    snprintf(want, sizeof want,
             "tcp connect to 127.0.0.1:%u: ETIMEDOUT (no answer within our deadline)",
             (unsigned)port);
    ck_assert_str_eq(r[i].err.msg, want);
    timeouts++;
  }
  ck_assert_int_ge(timeouts, 1);
  ck_assert_int_ge(ep_now_ms() - t0, 300);
  close(lfd);
  ep_loop_free(loop);
}
END_TEST

START_TEST(addresses_parse_and_format) {
  ep_addr_t a;
  ep_err_t err = {0};
  char s[EP_ADDR_STRLEN];
  ck_assert_int_eq(ep_addr_parse(&a, "127.0.0.1:9030", &err), EP_OK);
  ck_assert_str_eq(ep_addr_format(&a, s, sizeof s), "127.0.0.1:9030");
  ck_assert_uint_eq(ep_addr_port(&a), 9030);
  ck_assert_int_eq(ep_addr_family(&a), AF_INET);
  ck_assert_int_eq(ep_addr_parse(&a, "[::1]:443", &err), EP_OK);
  ck_assert_str_eq(ep_addr_format(&a, s, sizeof s), "[::1]:443");
  ck_assert_int_eq(ep_addr_family(&a), AF_INET6);
  ck_assert_int_eq(ep_addr_from_ip(&a, "[2001:db8::7]", 80, &err), EP_OK);
  ck_assert_str_eq(ep_addr_format(&a, s, sizeof s), "[2001:db8::7]:80");
  const char *bad[] = {"127.0.0.1", "127.0.0.1:", "127.0.0.1:0", "127.0.0.1:65536",
                       "127.0.0.1:9x", "::1:80", "example.org:80", "[::1:80", "1.2.3:4"};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    ck_assert_msg(ep_addr_parse(&a, bad[i], &err) == EP_ERR_MALFORMED, "accepted %s", bad[i]);
  }
}
END_TEST

/* ---- TLS: a server and a client in one loop ---- */

typedef struct side {
  ep_loop_t *loop;
  ep_tls_conn_t *c;
  ep_buf_t in;
  ep_buf_t out;
  bool server;
  bool echo;        /* server: send back what comes in */
  bool hs_done;
  bool closed;
  bool clean;
  int rc;           /* first error, 0 if none */
  ep_err_t err;
  size_t limit_hits;
} side_t;

static void side_update_interest(side_t *s) {
  unsigned interest = EP_LOOP_READ;
  if ((ep_tls_wants(s->c) & EP_LOOP_WRITE) || s->out.len > 0) {
    interest |= EP_LOOP_WRITE;
  }
  ep_loop_mod_fd(s->loop, ep_tls_fd(s->c), interest, NULL);
}

static void side_io(ep_loop_t *loop, int fd, unsigned events, void *arg) {
  (void)loop;
  (void)fd;
  (void)events;
  side_t *s = arg;
  if (s->rc != 0 || s->closed) {
    ep_loop_mod_fd(s->loop, ep_tls_fd(s->c), 0, NULL);
    return;
  }
  if (!s->hs_done) {
    int rc = ep_tls_handshake(s->c, &s->err);
    if (rc < 0) {
      s->rc = rc;
      ep_loop_mod_fd(s->loop, ep_tls_fd(s->c), 0, NULL);
      return;
    }
    if (rc == EP_NEED_MORE) {
      side_update_interest(s);
      return;
    }
    s->hs_done = true;
  }
  for (;;) {
    if (s->out.len > 0) {
      int rc = ep_tls_write_buf(s->c, &s->out, &s->err);
      if (rc < 0) {
        s->rc = rc;
        break;
      }
    }
    size_t n = 0;
    int rc = ep_tls_read(s->c, &s->in, &n, &s->err);
    if (rc == EP_TLS_CLOSED) {
      s->closed = true;
      s->clean = ep_tls_closed_cleanly(s->c);
      break;
    }
    if (rc == EP_ERR_LIMIT) {
      s->limit_hits++;
      s->rc = rc;
      break;
    }
    if (rc < 0) {
      s->rc = rc;
      break;
    }
    if (rc == EP_OK && s->echo) {
      ck_assert_int_eq(ep_buf_append(&s->out, s->in.data, s->in.len, NULL), EP_OK);
      ep_buf_clear(&s->in);
      continue;
    }
    if (rc == EP_OK && ep_tls_pending(s->c)) {
      continue;  /* bytes inside OpenSSL: epoll will not tell us again */
    }
    break;
  }
  if (s->rc != 0 || s->closed) {
    ep_loop_mod_fd(s->loop, ep_tls_fd(s->c), 0, NULL);
  } else {
    side_update_interest(s);
  }
}

typedef struct tls_pair {
  ep_loop_t *loop;
  ep_tls_ctx_t *sctx;
  ep_tls_ctx_t *cctx;
  int lfd;
  side_t srv;
  side_t cli;
  bool accepted;
  conn_result_t conn;
} tls_pair_t;

static void on_accept(ep_loop_t *loop, int fd, unsigned events, void *arg) {
  (void)events;
  tls_pair_t *p = arg;
  int s = accept4(fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
  if (s < 0) {
    return;
  }
  ep_err_t err = {0};
  p->srv.c = ep_tls_conn_new(p->sctx, s, "test client", &err);
  ck_assert_msg(p->srv.c != NULL, "%s", err.msg);
  ck_assert_int_eq(ep_loop_add_fd(loop, s, EP_LOOP_READ, side_io, &p->srv, &err), EP_OK);
  ep_loop_del_fd(loop, fd);
  p->accepted = true;
}

static bool pair_handshaken(void *arg) {
  tls_pair_t *p = arg;
  return (p->cli.hs_done && p->srv.hs_done) || p->cli.rc != 0 || p->srv.rc != 0;
}

/* Listen, connect, and run both handshakes to completion. */
static void pair_start(tls_pair_t *p, size_t cli_in_cap) {
  memset(p, 0, sizeof *p);
  ep_err_t err = {0};
  p->loop = new_loop();
  p->sctx = ep_tls_ctx_new_server_selfsigned("exitprobe test relay", &err);
  ck_assert_msg(p->sctx != NULL, "%s", err.msg);
  p->cctx = ep_tls_ctx_new_client(&err);
  ck_assert_msg(p->cctx != NULL, "%s", err.msg);
  uint16_t port;
  p->lfd = listen_local(&port);
  ck_assert_int_eq(ep_loop_add_fd(p->loop, p->lfd, EP_LOOP_READ, on_accept, p, &err), EP_OK);
  ep_addr_t a;
  ck_assert_int_eq(ep_addr_from_ip(&a, "127.0.0.1", port, &err), EP_OK);
  p->conn.fd = -2;
  ck_assert_ptr_nonnull(ep_tcp_connect(p->loop, &a, 5000, on_connect, &p->conn, &err));
  ck_assert_int_eq(ep_loop_run_until(p->loop, conn_done, &p->conn, ep_now_ms() + 5000, &err),
                   EP_LOOP_DONE);
  ck_assert_int_ge(p->conn.fd, 0);

  p->srv.loop = p->cli.loop = p->loop;
  p->srv.server = true;
  ep_buf_init(&p->srv.in, EP_CAP_LINK_INBUF, "link input", 0);
  ep_buf_init(&p->srv.out, EP_CAP_LINK_OUTBUF, "link output", 0);
  ep_buf_init(&p->cli.in, cli_in_cap, "link input", 0);
  ep_buf_init(&p->cli.out, EP_CAP_LINK_OUTBUF, "link output", 0);
  char peer[EP_ADDR_STRLEN];
  p->cli.c = ep_tls_conn_new(p->cctx, p->conn.fd, ep_addr_format(&a, peer, sizeof peer), &err);
  ck_assert_msg(p->cli.c != NULL, "%s", err.msg);
  ck_assert_str_eq(ep_tls_version(p->cli.c), "");
  ck_assert_int_eq(ep_loop_add_fd(p->loop, p->conn.fd, EP_LOOP_READ | EP_LOOP_WRITE, side_io,
                                  &p->cli, &err),
                   EP_OK);
  int rc = ep_loop_run_until(p->loop, pair_handshaken, p, ep_now_ms() + 10000, &err);
  ck_assert_int_eq(rc, EP_LOOP_DONE);
  ck_assert_msg(p->cli.rc == 0, "client: %s", p->cli.err.msg);
  ck_assert_msg(p->srv.rc == 0, "server: %s", p->srv.err.msg);
}

static void pair_free(tls_pair_t *p) {
  side_t *sides[2] = {&p->cli, &p->srv};
  for (int i = 0; i < 2; i++) {
    if (sides[i]->c != NULL) {
      ep_loop_del_fd(p->loop, ep_tls_fd(sides[i]->c));
      ep_tls_conn_free(sides[i]->c);
    }
    ep_buf_free(&sides[i]->in);
    ep_buf_free(&sides[i]->out);
  }
  if (!p->accepted) {
    ep_loop_del_fd(p->loop, p->lfd);
  }
  close(p->lfd);
  ep_tls_ctx_free(p->sctx);
  ep_tls_ctx_free(p->cctx);
  ep_loop_free(p->loop);
}

typedef struct want_len {
  side_t *s;
  size_t n;
} want_len_t;

static bool has_len(void *arg) {
  want_len_t *w = arg;
  return w->s->in.len >= w->n || w->s->rc != 0 || w->s->closed;
}

static bool is_closed(void *arg) {
  side_t *s = arg;
  return s->closed || s->rc != 0;
}

START_TEST(tls_handshake_echo_and_peer_cert) {
  tls_pair_t p;
  pair_start(&p, EP_CAP_LINK_INBUF);
  p.srv.echo = true;
  ck_assert(ep_tls_handshake_done(p.cli.c));
  const char *ver = ep_tls_version(p.cli.c);
  ck_assert_msg(strcmp(ver, "TLSv1.3") == 0 || strcmp(ver, "TLSv1.2") == 0, "%s", ver);
  ck_assert_str_ne(ep_tls_cipher(p.cli.c), "");

  /* The peer certificate the link layer will hash: the server's own. */
  uint8_t *der = NULL, *sder = NULL;
  size_t len = 0, slen = 0;
  ep_err_t err = {0};
  ck_assert_int_eq(ep_tls_peer_cert_der(p.cli.c, &der, &len, &err), EP_OK);
  ck_assert_int_eq(ep_tls_ctx_cert_der(p.sctx, &sder, &slen, &err), EP_OK);
  ck_assert_uint_eq(len, slen);
  uint8_t h1[EP_SHA256_LEN], h2[EP_SHA256_LEN];
  ep_sha256(h1, der, len);
  ep_sha256(h2, sder, slen);
  ck_assert(memcmp(h1, h2, sizeof h1) == 0);
  free(der);
  free(sder);
  ck_assert_int_eq(ep_tls_ctx_cert_der(p.cctx, &der, &len, &err), EP_ERR_STATE);

  /* Echo 200 kB: many records, partial writes, several reads. */
  size_t total = 200 * 1024;
  uint8_t *msg = malloc(total);
  ck_assert_ptr_nonnull(msg);
  for (size_t i = 0; i < total; i++) {
    msg[i] = (uint8_t)(i * 7 + (i >> 9));
  }
  ck_assert_int_eq(ep_buf_append(&p.cli.out, msg, total, NULL), EP_OK);
  side_update_interest(&p.cli);
  want_len_t w = {&p.cli, total};
  ck_assert_int_eq(ep_loop_run_until(p.loop, has_len, &w, ep_now_ms() + 10000, &err),
                   EP_LOOP_DONE);
  ck_assert_msg(p.cli.rc == 0, "client: %s", p.cli.err.msg);
  ck_assert_msg(p.srv.rc == 0, "server: %s", p.srv.err.msg);
  ck_assert_uint_eq(p.cli.in.len, total);
  ck_assert(memcmp(p.cli.in.data, msg, total) == 0);
  free(msg);

  /* close_notify from the client: the server sees a clean close. */
  int rc = ep_tls_shutdown(p.cli.c, &err);
  ck_assert_msg(rc == EP_OK || rc == EP_NEED_MORE, "%s", err.msg);
  ck_assert_int_eq(ep_loop_run_until(p.loop, is_closed, &p.srv, ep_now_ms() + 5000, &err),
                   EP_LOOP_DONE);
  ck_assert_msg(p.srv.rc == 0, "server: %s", p.srv.err.msg);
  ck_assert(p.srv.closed);
  ck_assert(p.srv.clean);
  pair_free(&p);
}
END_TEST

START_TEST(tls_abrupt_close_is_an_unclean_eof) {
  tls_pair_t p;
  pair_start(&p, EP_CAP_LINK_INBUF);
  ep_err_t err = {0};
  /* The server drops TCP without close_notify, as relays often do. */
  ep_loop_del_fd(p.loop, ep_tls_fd(p.srv.c));
  ep_tls_conn_free(p.srv.c);
  p.srv.c = NULL;
  ck_assert_int_eq(ep_loop_run_until(p.loop, is_closed, &p.cli, ep_now_ms() + 5000, &err),
                   EP_LOOP_DONE);
  ck_assert_msg(p.cli.rc == 0, "client: %s", p.cli.err.msg);
  ck_assert(p.cli.closed);
  ck_assert(!p.cli.clean);
  size_t n = 99;
  ck_assert_int_eq(ep_tls_read(p.cli.c, &p.cli.in, &n, &err), EP_TLS_CLOSED);
  ck_assert_uint_eq(n, 0);
  pair_free(&p);
}
END_TEST

START_TEST(tls_full_input_buffer_is_a_limit) {
  tls_pair_t p;
  pair_start(&p, 100);
  ep_err_t err = {0};
  uint8_t blob[1000];
  memset(blob, 'z', sizeof blob);
  ck_assert_int_eq(ep_buf_append(&p.srv.out, blob, sizeof blob, NULL), EP_OK);
  side_update_interest(&p.srv);
  ck_assert_int_eq(ep_loop_run_until(p.loop, is_closed, &p.cli, ep_now_ms() + 5000, &err),
                   EP_LOOP_DONE);
  ck_assert_int_eq(p.cli.rc, EP_ERR_LIMIT);
  ck_assert_uint_eq(p.cli.in.len, 100);  /* filled to the cap, never past it */
  ck_assert_uint_eq(p.cli.limit_hits, 1);
  ck_assert_msg(strstr(p.cli.err.msg, "is full (cap 100 bytes)") != NULL, "%s", p.cli.err.msg);
  /* Room again: the rest arrives. */
  ep_buf_clear(&p.cli.in);
  size_t n = 0;
  ck_assert_int_eq(ep_tls_read(p.cli.c, &p.cli.in, &n, &err), EP_OK);
  ck_assert_uint_eq(n, 100);
  pair_free(&p);
}
END_TEST

typedef struct plain_srv {
  int lfd;
  int cfd;
} plain_srv_t;

static void plain_accept(ep_loop_t *loop, int fd, unsigned events, void *arg) {
  (void)events;
  plain_srv_t *s = arg;
  s->cfd = accept4(fd, NULL, NULL, SOCK_CLOEXEC);
  if (s->cfd >= 0) {
    const char *reply = "HTTP/1.0 400 Bad Request\r\n\r\n";
    ck_assert_int_eq(write(s->cfd, reply, strlen(reply)), (ssize_t)strlen(reply));
    shutdown(s->cfd, SHUT_WR);
  }
  ep_loop_del_fd(loop, fd);
}

START_TEST(tls_against_a_non_tls_server_fails_clearly) {
  ep_loop_t *loop = new_loop();
  ep_err_t err = {0};
  uint16_t port;
  plain_srv_t ps = {.cfd = -1};
  ps.lfd = listen_local(&port);
  ck_assert_int_eq(ep_loop_add_fd(loop, ps.lfd, EP_LOOP_READ, plain_accept, &ps, &err), EP_OK);
  ep_addr_t a;
  ck_assert_int_eq(ep_addr_from_ip(&a, "127.0.0.1", port, &err), EP_OK);
  conn_result_t r = {.fd = -2};
  ck_assert_ptr_nonnull(ep_tcp_connect(loop, &a, 5000, on_connect, &r, &err));
  ck_assert_int_eq(ep_loop_run_until(loop, conn_done, &r, ep_now_ms() + 5000, &err), EP_LOOP_DONE);
  ck_assert_int_ge(r.fd, 0);
  ep_tls_ctx_t *ctx = ep_tls_ctx_new_client(&err);
  ck_assert_ptr_nonnull(ctx);
  side_t cli;
  memset(&cli, 0, sizeof cli);
  cli.loop = loop;
  ep_buf_init(&cli.in, EP_CAP_LINK_INBUF, "link input", 0);
  ep_buf_init(&cli.out, EP_CAP_LINK_OUTBUF, "link output", 0);
  char peer[EP_ADDR_STRLEN];
  cli.c = ep_tls_conn_new(ctx, r.fd, ep_addr_format(&a, peer, sizeof peer), &err);
  ck_assert_ptr_nonnull(cli.c);
  ck_assert_int_eq(ep_loop_add_fd(loop, r.fd, EP_LOOP_READ | EP_LOOP_WRITE, side_io, &cli, &err),
                   EP_OK);
  ck_assert_int_eq(ep_loop_run_until(loop, is_closed, &cli, ep_now_ms() + 5000, &err), EP_LOOP_DONE);
  ck_assert_int_eq(cli.rc, EP_ERR_IO);
  char want[128];
  snprintf(want, sizeof want, "tls with %s: handshake: ", peer);
  ck_assert_msg(strncmp(cli.err.msg, want, strlen(want)) == 0, "%s", cli.err.msg);
  ck_assert(!ep_tls_handshake_done(cli.c));
  uint8_t *der;
  size_t len;
  ck_assert_int_eq(ep_tls_peer_cert_der(cli.c, &der, &len, &err), EP_ERR_STATE);
  ep_loop_del_fd(loop, r.fd);
  ep_tls_conn_free(cli.c);
  ep_buf_free(&cli.in);
  ep_buf_free(&cli.out);
  ep_tls_ctx_free(ctx);
  if (ps.cfd >= 0) {
    close(ps.cfd);
  }
  close(ps.lfd);
  ep_loop_free(loop);
}
END_TEST

/* --outbound-address: a connect to 127.0.0.1 comes from 127.0.0.2 (the
 * listener sees it as the peer); an address not on this host fails at bind
 * with a clear error, before any packet; cleared, connects are as before. */
START_TEST(outbound_address_binds_before_connect) {
  uint16_t port;
  int lfd = listen_local(&port);
  ep_addr_t dst, src;
  ep_err_t err = {0};
  ck_assert_int_eq(ep_addr_from_ip(&dst, "127.0.0.1", port, &err), EP_OK);
  const char *froms[] = {"127.0.0.2", NULL};
  for (int k = 0; k < 2; k++) {
    if (froms[k] != NULL) {
      ck_assert_int_eq(ep_addr_from_ip(&src, froms[k], 4321, &err), EP_OK);
      ep_tcp_set_outbound(&src);
    } else {
      ep_tcp_set_outbound(NULL);
    }
    int fd, se;
    int rc = ep_tcp_connect_start(&dst, &fd, &se, &err);
    ck_assert_msg(rc == EP_OK || rc == EP_NEED_MORE, "%s", err.msg);
    int afd = -1;
    for (int i = 0; i < 1000 && afd < 0; i++) {
      afd = accept(lfd, NULL, NULL);
      if (afd < 0) {
        usleep(1000);
      }
    }
    ck_assert_int_ge(afd, 0);
    struct sockaddr_in peer;
    socklen_t pl = sizeof peer;
    ck_assert_int_eq(getpeername(afd, (struct sockaddr *)&peer, &pl), 0);
    char ip[INET_ADDRSTRLEN];
    inet_ntop(AF_INET, &peer.sin_addr, ip, sizeof ip);
    ck_assert_str_eq(ip, froms[k] != NULL ? froms[k] : "127.0.0.1");
    ck_assert_uint_ne(ntohs(peer.sin_port), 4321); /* the port is the kernel's */
    close(afd);
    close(fd);
  }
  /* TEST-NET-1 is on no interface here: bind fails (EADDRNOTAVAIL) */
  ck_assert_int_eq(ep_addr_from_ip(&src, "192.0.2.1", 0, &err), EP_OK);
  ep_tcp_set_outbound(&src);
  int fd, se;
  ck_assert_int_eq(ep_tcp_connect_start(&dst, &fd, &se, &err), EP_ERR_IO);
  ck_assert_int_eq(fd, -1);
  ck_assert_int_eq(se, EADDRNOTAVAIL);
  ck_assert_msg(strstr(err.msg, "cannot bind to the outbound address 192.0.2.1:0: EADDRNOTAVAIL") != NULL,
                "%s", err.msg);
  /* an IPv4 outbound address leaves IPv6 connects alone */
  ep_addr_t d6;
  ck_assert_int_eq(ep_addr_from_ip(&d6, "::1", closed_port(), &err), EP_OK);
  memset(&err, 0, sizeof err);
  int rc = ep_tcp_connect_start(&d6, &fd, &se, &err);
  ck_assert(rc == EP_NEED_MORE || rc == EP_OK || se == ECONNREFUSED || se == EADDRNOTAVAIL ||
            se == ENETUNREACH || se == EAFNOSUPPORT);
  ck_assert_ptr_null(strstr(err.msg, "outbound"));
  if (fd >= 0) {
    close(fd);
  }
  ep_tcp_set_outbound(NULL);
  close(lfd);
}
END_TEST

static Suite *loop_suite(void) {
  Suite *s = suite_create("loop");
  TCase *t = tcase_create("timers");
  tcase_add_test(t, timers_fire_in_deadline_order);
  tcase_add_test(t, timers_heap_many_with_cancels);
  tcase_add_test(t, timer_rearming_at_zero_does_not_starve_io);
  suite_add_tcase(s, t);
  t = tcase_create("fds");
  tcase_add_test(t, fd_readiness_on_a_socketpair);
  tcase_add_test(t, fd_removed_in_the_same_batch_gets_no_callback);
  tcase_add_test(t, run_until_deadline_and_stop);
  tcase_add_test(t, sigterm_stops_the_loop);
  suite_add_tcase(s, t);
  t = tcase_create("defer");
  tcase_add_test(t, deferrals_run_at_the_end_of_the_turn_in_order);
  tcase_add_test(t, a_deferral_that_defers_itself_is_bounded);
  suite_add_tcase(s, t);
  t = tcase_create("tcp");
  tcase_add_test(t, tcp_connect_refused_names_the_errno);
  tcase_add_test(t, tcp_connect_succeeds_and_cancel_is_clean);
  tcase_add_test(t, tcp_connect_times_out_by_our_deadline);
  tcase_add_test(t, addresses_parse_and_format);
  suite_add_tcase(s, t);
  t = tcase_create("tls");
  tcase_set_timeout(t, 60);
  tcase_add_test(t, tls_handshake_echo_and_peer_cert);
  tcase_add_test(t, tls_abrupt_close_is_an_unclean_eof);
  tcase_add_test(t, tls_full_input_buffer_is_a_limit);
  tcase_add_test(t, tls_against_a_non_tls_server_fails_clearly);
  tcase_add_test(t, outbound_address_binds_before_connect);
  suite_add_tcase(s, t);
  return s;
}

int main(void) { return tu_run_suite(loop_suite()); }
