/* exitprobe — the event loop: level-triggered epoll, a min-heap of timers,
 * SIGINT/SIGTERM through a signalfd. See loop.h for the contract. */
#include "config.h"

#include "probe/net/loop.h"

#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include "lib/caps.h"
#include "lib/timeutil.h"
#include "lib/vec.h"

#define EP_LOOP_BATCH 64
/* Deferrals run per phase before the rest waits for the next turn: bounds a
 * callback that keeps deferring itself. */
#define EP_LOOP_DEFER_PASSES 8

/* One registered fd. The table is indexed by fd; `gen` changes on every
 * removal so that an event already fetched for a removed (or removed and
 * re-added) fd is recognised as stale and dropped. */
typedef struct fd_slot {
  ep_loop_fd_cb cb;
  void *arg;
  unsigned interest;
  uint32_t gen;
  bool active;
} fd_slot_t;

/* One timer slot; `heap_pos` is its index in the heap while pending. */
typedef struct timer_slot {
  int64_t deadline;
  uint64_t seq;           /* creation order: ties fire first-in first-out */
  ep_loop_timer_cb cb;
  void *arg;
  uint32_t gen;           /* part of the id; bumped when the slot is freed */
  uint32_t heap_pos;
  bool pending;
} timer_slot_t;

/* One deferral; cb NULL once cancelled (removed when its phase runs). */
typedef struct defer {
  ep_defer_id_t id;
  ep_loop_timer_cb cb;
  void *arg;
} defer_t;

struct ep_loop {
  int epfd;
  int64_t now;

  fd_slot_t *fds;
  size_t nfds_alloc;
  size_t nfds_user;       /* registered fds other than the signalfd */

  timer_slot_t *timers;
  size_t ntimers_alloc;
  uint32_t *free_slots;   /* stack of free timer slot indices */
  size_t nfree;
  uint32_t *heap;         /* slot indices, min-heap on (deadline, seq) */
  size_t heap_len;
  uint64_t next_seq;

  defer_t *defers;         /* pending deferrals, in the order they were made */
  size_t ndefers, ndefers_alloc;
  uint64_t next_defer_id;

  int sigfd;
  sigset_t old_mask;
  bool mask_saved;
  bool stop;
  int stop_signal;
};

/* ---- fds ---- */

static int fd_table_reserve(ep_loop_t *loop, int fd, ep_err_t *err) {
  if ((size_t)fd < loop->nfds_alloc) {
    return EP_OK;
  }
  size_t old = loop->nfds_alloc;
  size_t need = (size_t)fd < 64 ? 64 : (size_t)fd + 1;
  int rc = EP_VEC_RESERVE(loop->fds, loop->nfds_alloc, need, EP_CAP_LOOP_FDS, "event loop fd table",
                          err);
  if (rc != EP_OK) {
    return rc;
  }
  memset(loop->fds + old, 0, (loop->nfds_alloc - old) * sizeof *loop->fds);
  return EP_OK;
}

static uint32_t to_epoll(unsigned interest) {
  uint32_t ev = 0;
  if (interest & EP_LOOP_READ) {
    ev |= EPOLLIN | EPOLLRDHUP;  /* half-close only matters to a reader */
  }
  if (interest & EP_LOOP_WRITE) {
    ev |= EPOLLOUT;
  }
  return ev;
}

static unsigned from_epoll(uint32_t ev) {
  unsigned out = 0;
  if (ev & (EPOLLIN | EPOLLPRI)) {
    out |= EP_LOOP_READ;
  }
  if (ev & EPOLLOUT) {
    out |= EP_LOOP_WRITE;
  }
  if (ev & (EPOLLHUP | EPOLLRDHUP)) {
    out |= EP_LOOP_HUP;
  }
  if (ev & EPOLLERR) {
    out |= EP_LOOP_ERR;
  }
  return out;
}

static int epoll_op(ep_loop_t *loop, int op, int fd, unsigned interest, ep_err_t *err) {
  struct epoll_event ev;
  memset(&ev, 0, sizeof ev);
  ev.events = to_epoll(interest);
  ev.data.u64 = (uint64_t)loop->fds[fd].gen << 32 | (uint32_t)fd;
  if (epoll_ctl(loop->epfd, op, fd, &ev) != 0) {
    int e = errno;
    return ep_err_set(err, EP_ERR_IO, "event loop: epoll_ctl(%s, fd %d): %s",
                      op == EPOLL_CTL_ADD ? "add" : "mod", fd, strerror(e));
  }
  return EP_OK;
}

static int add_fd(ep_loop_t *loop, int fd, unsigned interest, ep_loop_fd_cb cb, void *arg,
                  ep_err_t *err) {
  if (fd < 0 || cb == NULL) {
    return ep_err_set(err, EP_ERR_INTERNAL, "event loop: bad fd %d or no callback", fd);
  }
  int rc = fd_table_reserve(loop, fd, err);
  if (rc != EP_OK) {
    return rc;
  }
  fd_slot_t *s = &loop->fds[fd];
  if (s->active) {
    return ep_err_set(err, EP_ERR_STATE, "event loop: fd %d is already registered", fd);
  }
  s->gen++;
  rc = epoll_op(loop, EPOLL_CTL_ADD, fd, interest & (EP_LOOP_READ | EP_LOOP_WRITE), err);
  if (rc != EP_OK) {
    return rc;
  }
  s->cb = cb;
  s->arg = arg;
  s->interest = interest & (EP_LOOP_READ | EP_LOOP_WRITE);
  s->active = true;
  return EP_OK;
}

int ep_loop_add_fd(ep_loop_t *loop, int fd, unsigned interest, ep_loop_fd_cb cb, void *arg,
                   ep_err_t *err) {
  int rc = add_fd(loop, fd, interest, cb, arg, err);
  if (rc == EP_OK) {
    loop->nfds_user++;
  }
  return rc;
}

int ep_loop_mod_fd(ep_loop_t *loop, int fd, unsigned interest, ep_err_t *err) {
  if (fd < 0 || (size_t)fd >= loop->nfds_alloc || !loop->fds[fd].active) {
    return ep_err_set(err, EP_ERR_STATE, "event loop: fd %d is not registered", fd);
  }
  interest &= EP_LOOP_READ | EP_LOOP_WRITE;
  if (loop->fds[fd].interest == interest) {
    return EP_OK;
  }
  int rc = epoll_op(loop, EPOLL_CTL_MOD, fd, interest, err);
  if (rc == EP_OK) {
    loop->fds[fd].interest = interest;
  }
  return rc;
}

unsigned ep_loop_fd_interest(const ep_loop_t *loop, int fd) {
  if (fd < 0 || (size_t)fd >= loop->nfds_alloc || !loop->fds[fd].active) {
    return 0;
  }
  return loop->fds[fd].interest;
}

static bool del_fd(ep_loop_t *loop, int fd) {
  if (fd < 0 || (size_t)fd >= loop->nfds_alloc || !loop->fds[fd].active) {
    return false;
  }
  /* The fd may already be closed (epoll forgot it then): ignore errors. */
  (void)epoll_ctl(loop->epfd, EPOLL_CTL_DEL, fd, NULL);
  fd_slot_t *s = &loop->fds[fd];
  s->active = false;
  s->cb = NULL;
  s->arg = NULL;
  s->interest = 0;
  s->gen++;
  return true;
}

void ep_loop_del_fd(ep_loop_t *loop, int fd) {
  if (fd == loop->sigfd) {
    return;  /* the loop's own */
  }
  if (del_fd(loop, fd)) {
    loop->nfds_user--;
  }
}

/* ---- timers: a binary min-heap of slot indices ---- */

static bool timer_before(const ep_loop_t *loop, uint32_t a, uint32_t b) {
  const timer_slot_t *ta = &loop->timers[a];
  const timer_slot_t *tb = &loop->timers[b];
  if (ta->deadline != tb->deadline) {
    return ta->deadline < tb->deadline;
  }
  return ta->seq < tb->seq;
}

static void heap_set(ep_loop_t *loop, size_t pos, uint32_t slot) {
  loop->heap[pos] = slot;
  loop->timers[slot].heap_pos = (uint32_t)pos;
}

static void heap_up(ep_loop_t *loop, size_t pos) {
  uint32_t slot = loop->heap[pos];
  while (pos > 0) {
    size_t parent = (pos - 1) / 2;
    if (!timer_before(loop, slot, loop->heap[parent])) {
      break;
    }
    heap_set(loop, pos, loop->heap[parent]);
    pos = parent;
  }
  heap_set(loop, pos, slot);
}

static void heap_down(ep_loop_t *loop, size_t pos) {
  uint32_t slot = loop->heap[pos];
  for (;;) {
    size_t child = 2 * pos + 1;
    if (child >= loop->heap_len) {
      break;
    }
    if (child + 1 < loop->heap_len && timer_before(loop, loop->heap[child + 1], loop->heap[child])) {
      child++;
    }
    if (!timer_before(loop, loop->heap[child], slot)) {
      break;
    }
    heap_set(loop, pos, loop->heap[child]);
    pos = child;
  }
  heap_set(loop, pos, slot);
}

static void heap_remove(ep_loop_t *loop, size_t pos) {
  loop->heap_len--;
  if (pos == loop->heap_len) {
    return;
  }
  uint32_t moved = loop->heap[loop->heap_len];
  heap_set(loop, pos, moved);
  heap_down(loop, pos);
  heap_up(loop, loop->timers[moved].heap_pos);
}

static void timer_release(ep_loop_t *loop, uint32_t slot) {
  timer_slot_t *t = &loop->timers[slot];
  t->pending = false;
  t->cb = NULL;
  t->arg = NULL;
  t->gen++;
  if (t->gen == 0) {
    t->gen = 1;  /* ids never become 0 */
  }
  loop->free_slots[loop->nfree++] = slot;
}

static int timers_grow(ep_loop_t *loop) {
  size_t old = loop->ntimers_alloc;
  size_t n = old < 64 ? 64 : old * 2;
  /* The three arrays grow together to n (a power of two, so each is exactly
   * n); ntimers_alloc is what all three hold. */
  size_t ta = old, fa = old, ha = old;
  if (EP_VEC_RESERVE(loop->timers, ta, n, EP_CAP_LOOP_TIMERS, "timers", NULL) != EP_OK ||
      EP_VEC_RESERVE(loop->free_slots, fa, n, EP_CAP_LOOP_TIMERS, "timer slots", NULL) != EP_OK ||
      EP_VEC_RESERVE(loop->heap, ha, n, EP_CAP_LOOP_TIMERS, "timer heap", NULL) != EP_OK) {
    return -1;
  }
  timer_slot_t *t = loop->timers;
  memset(t + old, 0, (n - old) * sizeof *t);
  /* Push new slots so that the lowest index is taken first. */
  for (size_t i = n; i > old; i--) {
    t[i - 1].gen = 1;
    loop->free_slots[loop->nfree++] = (uint32_t)(i - 1);
  }
  loop->ntimers_alloc = n;
  return 0;
}

ep_timer_id_t ep_loop_timer_at(ep_loop_t *loop, int64_t deadline_ms, ep_loop_timer_cb cb,
                               void *arg) {
  if (cb == NULL) {
    return 0;
  }
  if (loop->nfree == 0 && timers_grow(loop) != 0) {
    return 0;
  }
  uint32_t slot = loop->free_slots[--loop->nfree];
  timer_slot_t *t = &loop->timers[slot];
  t->deadline = deadline_ms;
  t->seq = loop->next_seq++;
  t->cb = cb;
  t->arg = arg;
  t->pending = true;
  loop->heap_len++;
  heap_set(loop, loop->heap_len - 1, slot);
  heap_up(loop, loop->heap_len - 1);
  return (ep_timer_id_t)t->gen << 32 | (uint64_t)slot;
}

ep_timer_id_t ep_loop_timer_in(ep_loop_t *loop, int64_t delay_ms, ep_loop_timer_cb cb, void *arg) {
  if (delay_ms < 0) {
    delay_ms = 0;
  }
  return ep_loop_timer_at(loop, ep_now_ms() + delay_ms, cb, arg);
}

int ep_loop_timer_cancel(ep_loop_t *loop, ep_timer_id_t id) {
  uint32_t slot = (uint32_t)(id & 0xffffffffu);
  uint32_t gen = (uint32_t)(id >> 32);
  if (id == 0 || slot >= loop->ntimers_alloc) {
    return -1;
  }
  timer_slot_t *t = &loop->timers[slot];
  if (!t->pending || t->gen != gen) {
    return -1;
  }
  heap_remove(loop, t->heap_pos);
  timer_release(loop, slot);
  return 0;
}

size_t ep_loop_timer_count(const ep_loop_t *loop) { return loop->heap_len; }

/* ---- deferred work ---- */

ep_defer_id_t ep_loop_defer(ep_loop_t *loop, ep_loop_timer_cb cb, void *arg) {
  if (cb == NULL) {
    return 0;
  }
  if (EP_VEC_RESERVE(loop->defers, loop->ndefers_alloc, loop->ndefers + 1, EP_CAP_LOOP_DEFERS,
                     "deferred calls", NULL) != EP_OK) {
    return 0;
  }
  ep_defer_id_t id = ++loop->next_defer_id;
  loop->defers[loop->ndefers++] = (defer_t){id, cb, arg};
  return id;
}

int ep_loop_defer_cancel(ep_loop_t *loop, ep_defer_id_t id) {
  if (id == 0) {
    return -1;
  }
  for (size_t i = 0; i < loop->ndefers; i++) {
    if (loop->defers[i].id == id && loop->defers[i].cb != NULL) {
      loop->defers[i].cb = NULL;
      return 0;
    }
  }
  return -1;
}

size_t ep_loop_defer_count(const ep_loop_t *loop) {
  size_t n = 0;
  for (size_t i = 0; i < loop->ndefers; i++) {
    n += loop->defers[i].cb != NULL;
  }
  return n;
}

/* Run the pending deferrals, and those they make, for a bounded number of
 * passes. A pass runs the entries present when it starts; callbacks may
 * defer and cancel (the array may move: entries are reached by index). */
static void run_defers(ep_loop_t *loop) {
  for (int pass = 0; pass < EP_LOOP_DEFER_PASSES && loop->ndefers > 0; pass++) {
    size_t n = loop->ndefers;
    for (size_t i = 0; i < n; i++) {
      defer_t d = loop->defers[i];
      if (d.cb == NULL) {
        continue;
      }
      loop->defers[i].cb = NULL;  /* ran: a cancel now finds nothing */
      d.cb(loop, d.arg);
    }
    /* Drop this pass's entries; keep those made meanwhile. */
    memmove(loop->defers, loop->defers + n, (loop->ndefers - n) * sizeof *loop->defers);
    loop->ndefers -= n;
  }
}

/* ---- signals ---- */

static void on_signalfd(ep_loop_t *loop, int fd, unsigned events, void *arg) {
  (void)events;
  (void)arg;
  struct signalfd_siginfo si;
  for (;;) {
    ssize_t n = read(fd, &si, sizeof si);
    if (n != (ssize_t)sizeof si) {
      break;  /* EAGAIN: drained */
    }
    if (!loop->stop) {
      loop->stop_signal = (int)si.ssi_signo;
    }
    loop->stop = true;
  }
}

int ep_loop_catch_signals(ep_loop_t *loop, ep_err_t *err) {
  if (loop->sigfd >= 0) {
    return EP_OK;
  }
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  if (pthread_sigmask(SIG_BLOCK, &set, &loop->old_mask) != 0) {
    return ep_err_set(err, EP_ERR_IO, "event loop: cannot block SIGINT/SIGTERM");
  }
  loop->mask_saved = true;
  int fd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
  if (fd < 0) {
    int e = errno;
    return ep_err_set(err, EP_ERR_IO, "event loop: signalfd: %s", strerror(e));
  }
  int rc = add_fd(loop, fd, EP_LOOP_READ, on_signalfd, NULL, err);
  if (rc != EP_OK) {
    close(fd);
    return rc;
  }
  loop->sigfd = fd;
  return EP_OK;
}

void ep_loop_stop(ep_loop_t *loop) { loop->stop = true; }
bool ep_loop_stopping(const ep_loop_t *loop) { return loop->stop; }
int ep_loop_stop_signal(const ep_loop_t *loop) { return loop->stop_signal; }

/* ---- life cycle ---- */

ep_loop_t *ep_loop_new(ep_err_t *err) {
  ep_loop_t *loop = calloc(1, sizeof *loop);
  if (loop == NULL) {
    ep_err_set(err, EP_ERR_NOMEM, "event loop: out of memory");
    return NULL;
  }
  loop->sigfd = -1;
  loop->next_seq = 1;
  loop->epfd = epoll_create1(EPOLL_CLOEXEC);
  if (loop->epfd < 0) {
    int e = errno;
    ep_err_set(err, EP_ERR_IO, "event loop: epoll_create1: %s", strerror(e));
    free(loop);
    return NULL;
  }
  loop->now = ep_now_ms();
  return loop;
}

void ep_loop_free(ep_loop_t *loop) {
  if (loop == NULL) {
    return;
  }
  if (loop->sigfd >= 0) {
    del_fd(loop, loop->sigfd);
    close(loop->sigfd);
  }
  if (loop->mask_saved) {
    pthread_sigmask(SIG_SETMASK, &loop->old_mask, NULL);
  }
  close(loop->epfd);
  free(loop->fds);
  free(loop->timers);
  free(loop->free_slots);
  free(loop->heap);
  free(loop->defers);
  free(loop);
}

int64_t ep_loop_now(ep_loop_t *loop) { return loop->now; }

/* ---- running ---- */

static void fire_timers(ep_loop_t *loop) {
  /* Only timers that exist now: one armed by a callback for "now" waits for
   * the next turn, so a timer that re-arms itself cannot starve I/O. */
  uint64_t seq_limit = loop->next_seq;
  while (loop->heap_len > 0) {
    uint32_t slot = loop->heap[0];
    timer_slot_t *t = &loop->timers[slot];
    if (t->deadline > loop->now || t->seq >= seq_limit) {
      /* A new timer at the top may hold back older due ones with the same
       * deadline: they fire on the next turn (which then does not block). */
      break;
    }
    ep_loop_timer_cb cb = t->cb;
    void *arg = t->arg;
    heap_remove(loop, 0);
    timer_release(loop, slot);
    cb(loop, arg);
  }
}

static int next_timeout(const ep_loop_t *loop, int64_t max_wait_ms) {
  int64_t wait = max_wait_ms;
  if (loop->ndefers > 0) {
    return 0;  /* deferrals left over by the pass bound */
  }
  if (loop->heap_len > 0) {
    int64_t until = loop->timers[loop->heap[0]].deadline - loop->now;
    if (until < 0) {
      until = 0;
    }
    if (wait < 0 || until < wait) {
      wait = until;
    }
  }
  if (wait > INT_MAX) {
    wait = INT_MAX;
  }
  return wait < 0 ? -1 : (int)wait;
}

int ep_loop_run_once(ep_loop_t *loop, int64_t max_wait_ms, ep_err_t *err) {
  struct epoll_event evs[EP_LOOP_BATCH];
  bool deferred = loop->ndefers > 0;
  if (deferred) {
    /* Made outside a turn, or left over: run them, and only poll, so that
     * the caller sees what they did before anything waits. */
    loop->now = ep_now_ms();
    run_defers(loop);
  }
  loop->now = ep_now_ms();
  int timeout = deferred ? 0 : next_timeout(loop, max_wait_ms);
  int n = epoll_wait(loop->epfd, evs, EP_LOOP_BATCH, timeout);
  if (n < 0) {
    int e = errno;
    if (e != EINTR) {
      return ep_err_set(err, EP_ERR_IO, "event loop: epoll_wait: %s", strerror(e));
    }
    n = 0;
  }
  loop->now = ep_now_ms();
  for (int i = 0; i < n; i++) {
    int fd = (int)(uint32_t)(evs[i].data.u64 & 0xffffffffu);
    uint32_t gen = (uint32_t)(evs[i].data.u64 >> 32);
    if (fd < 0 || (size_t)fd >= loop->nfds_alloc) {
      continue;
    }
    fd_slot_t *s = &loop->fds[fd];
    if (!s->active || s->gen != gen) {
      continue;  /* removed by an earlier callback of this batch */
    }
    unsigned events = from_epoll(evs[i].events);
    events &= s->interest | EP_LOOP_HUP | EP_LOOP_ERR;
    if (events != 0) {
      s->cb(loop, fd, events, s->arg);
    }
  }
  loop->now = ep_now_ms();
  fire_timers(loop);
  run_defers(loop);
  return EP_OK;
}

int ep_loop_run_until(ep_loop_t *loop, ep_loop_pred pred, void *arg, int64_t deadline_ms,
                      ep_err_t *err) {
  for (;;) {
    if (pred != NULL && pred(arg)) {
      return EP_LOOP_DONE;
    }
    if (loop->stop) {
      return EP_LOOP_STOPPED;
    }
    loop->now = ep_now_ms();
    int64_t wait = -1;
    if (deadline_ms != EP_LOOP_NO_DEADLINE) {
      if (loop->now >= deadline_ms) {
        return EP_LOOP_DEADLINE;
      }
      wait = deadline_ms - loop->now;
    }
    if (loop->nfds_user == 0 && loop->heap_len == 0 && loop->ndefers == 0) {
      return EP_LOOP_IDLE;
    }
    int rc = ep_loop_run_once(loop, wait, err);
    if (rc < 0) {
      return rc;
    }
  }
}

const char *ep_loop_outcome_name(int rc) {
  switch (rc) {
    case EP_LOOP_DONE: return "done";
    case EP_LOOP_DEADLINE: return "deadline";
    case EP_LOOP_STOPPED: return "stopped";
    case EP_LOOP_IDLE: return "idle";
    default: return ep_status_name(rc);
  }
}
