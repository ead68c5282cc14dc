/* exitprobe — the one event loop: epoll, timers, SIGINT/SIGTERM.
 *
 * Everything in src/probe that waits (TCP connects, TLS links, HTTP fetches,
 * per-state deadlines of channels, circuits and streams) waits here. There is
 * no global state: a program makes one ep_loop_t and passes it down.
 *
 * File descriptors. epoll is used LEVEL-TRIGGERED: a callback fires on every
 * turn of the loop for as long as its fd is readable (or writable, if write
 * interest is set). A callback need not drain the fd in one go, but:
 *   - ask for EP_LOOP_WRITE only while there is something to write, or the
 *     loop spins;
 *   - bytes buffered *inside* a library (OpenSSL's record buffer, see
 *     ep_tls_pending) are invisible to epoll: drain them before returning;
 *   - EP_LOOP_ERR and a full hang-up (EP_LOOP_HUP) are reported whatever the
 *     interest, a half-close by the peer only with EP_LOOP_READ; an fd that
 *     keeps reporting them must be removed (or closed) by its owner.
 * The loop never closes or owns an fd; remove it (ep_loop_del_fd) before
 * closing it. Callbacks may add, modify and remove any fd (their own
 * included) and any timer: a removed fd gets no further callback, even when
 * its event is already in the current batch.
 *
 * Timers. Deadlines are absolute monotonic milliseconds (ep_now_ms(), the
 * same clock as ep_loop_now). A timer fires once, at or after its deadline,
 * in deadline order (ties: in order of creation); it is then gone. Timers are
 * named by an ep_timer_id_t that stays unique for the life of the loop, so
 * cancelling a timer that already fired is harmless (returns -1).
 *
 * Deferred work. ep_loop_defer runs a callback once at the end of the
 * current turn, after the ready fds and the due timers (registered outside a
 * turn: at the start of the next one, which then only polls). It batches work that
 * many callbacks of one turn ask for: a link queues the cells of every
 * circuit it serves during the turn and writes them with one TLS write.
 * Deferrals run in the order they were made; one made by a deferred callback
 * runs in the same phase, up to a bound (then on the next turn, which does
 * not block).
 *
 * Signals. ep_loop_catch_signals blocks SIGINT and SIGTERM in the calling
 * thread and reads them from a signalfd: the first one sets the stop flag
 * (ep_loop_run_until returns EP_LOOP_STOPPED); nothing is done inside a
 * signal handler. ep_loop_free restores the signal mask it found. */
#ifndef EP_PROBE_LOOP_H
#define EP_PROBE_LOOP_H

#include <stdbool.h>
#include <stdint.h>

#include "lib/err.h"

typedef struct ep_loop ep_loop_t;

/* Interest and event bits. */
#define EP_LOOP_READ 0x1u
#define EP_LOOP_WRITE 0x2u
#define EP_LOOP_HUP 0x4u  /* event only: peer hung up (EPOLLHUP/EPOLLRDHUP) */
#define EP_LOOP_ERR 0x8u  /* event only: error pending on the fd (EPOLLERR) */

#define EP_LOOP_NO_DEADLINE ((int64_t)-1)

/* Called with the events that are ready (a subset of interest, plus HUP/ERR). */
typedef void (*ep_loop_fd_cb)(ep_loop_t *loop, int fd, unsigned events, void *arg);
typedef void (*ep_loop_timer_cb)(ep_loop_t *loop, void *arg);
/* Predicate for ep_loop_run_until: true when the caller's goal is reached. */
typedef bool (*ep_loop_pred)(void *arg);

typedef uint64_t ep_timer_id_t;  /* 0 is never a valid timer */

ep_loop_t *ep_loop_new(ep_err_t *err);
/* NULL-safe. Fds still registered are left open (they are not the loop's);
 * pending timers are dropped without being called. */
void ep_loop_free(ep_loop_t *loop);

/* Register fd (must be non-blocking) with interest EP_LOOP_READ|EP_LOOP_WRITE
 * (either, both, or none). EP_ERR_STATE if fd is already registered. */
int ep_loop_add_fd(ep_loop_t *loop, int fd, unsigned interest, ep_loop_fd_cb cb, void *arg,
                   ep_err_t *err);
/* Change the interest of a registered fd. */
int ep_loop_mod_fd(ep_loop_t *loop, int fd, unsigned interest, ep_err_t *err);
/* Current interest of fd, or 0 if not registered. */
unsigned ep_loop_fd_interest(const ep_loop_t *loop, int fd);
/* Unregister fd; harmless if it is not registered. Call before close(fd). */
void ep_loop_del_fd(ep_loop_t *loop, int fd);

/* A one-shot timer at an absolute monotonic deadline (may be in the past:
 * fires on the next turn). Returns its id, or 0 on allocation failure. */
ep_timer_id_t ep_loop_timer_at(ep_loop_t *loop, int64_t deadline_ms, ep_loop_timer_cb cb,
                               void *arg);
/* The same, delay_ms from now (0: on the next turn, after pending I/O). */
ep_timer_id_t ep_loop_timer_in(ep_loop_t *loop, int64_t delay_ms, ep_loop_timer_cb cb,
                               void *arg);
/* 0 if the timer was pending and is now cancelled, -1 if it had fired, was
 * cancelled already, or never existed. id 0 is accepted (returns -1). */
int ep_loop_timer_cancel(ep_loop_t *loop, ep_timer_id_t id);
/* Number of pending timers. */
size_t ep_loop_timer_count(const ep_loop_t *loop);

typedef uint64_t ep_defer_id_t;  /* 0 is never a valid deferral */
/* Run cb(loop, arg) once at the end of this turn (see above). Returns its id,
 * or 0 on allocation failure (the caller then does the work at once). */
ep_defer_id_t ep_loop_defer(ep_loop_t *loop, ep_loop_timer_cb cb, void *arg);
/* 0 if the deferral was pending and is now cancelled, -1 otherwise (ran,
 * cancelled, never existed; id 0 is accepted). */
int ep_loop_defer_cancel(ep_loop_t *loop, ep_defer_id_t id);
/* Number of pending deferrals. */
size_t ep_loop_defer_count(const ep_loop_t *loop);

/* The loop's notion of now (monotonic ms), refreshed on every turn. */
int64_t ep_loop_now(ep_loop_t *loop);

/* Catch SIGINT and SIGTERM through a signalfd (see above). */
int ep_loop_catch_signals(ep_loop_t *loop, ep_err_t *err);
/* Ask the loop to stop: ep_loop_run_until returns EP_LOOP_STOPPED at the end
 * of the current turn. The flag stays set (a graceful shutdown may still run
 * ep_loop_run_once to flush). */
void ep_loop_stop(ep_loop_t *loop);
bool ep_loop_stopping(const ep_loop_t *loop);
/* The signal that stopped the loop (SIGINT/SIGTERM), or 0. */
int ep_loop_stop_signal(const ep_loop_t *loop);

typedef enum ep_loop_outcome {
  EP_LOOP_DONE = 0,      /* the predicate became true */
  EP_LOOP_DEADLINE = 2,  /* the deadline passed first */
  EP_LOOP_STOPPED = 3,   /* ep_loop_stop() or a caught signal */
  EP_LOOP_IDLE = 4       /* nothing left to wait for: no fds, no timers */
} ep_loop_outcome_t;

/* One turn: run deferrals made outside a turn (the turn then only polls),
 * wait at most max_wait_ms (-1: until something happens, 0: poll) for I/O or
 * the next timer, dispatch ready fds, fire due timers, then run the
 * deferrals they made.
 * EP_OK, or EP_ERR_IO if epoll_wait fails. */
int ep_loop_run_once(ep_loop_t *loop, int64_t max_wait_ms, ep_err_t *err);
/* Turn until pred(arg) is true (checked before every turn; pred may be
 * NULL: never true), the absolute deadline passes (EP_LOOP_NO_DEADLINE: none),
 * the loop is stopped, or it is idle. Returns an ep_loop_outcome_t, or a
 * negative ep_status_t if epoll fails. */
int ep_loop_run_until(ep_loop_t *loop, ep_loop_pred pred, void *arg, int64_t deadline_ms,
                      ep_err_t *err);
/* Name of an outcome or status ("done", "deadline", "stopped", "idle"). */
const char *ep_loop_outcome_name(int rc);

#endif
