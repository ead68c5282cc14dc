/* exitprobe — the circuit driver and stream recorder (see circ.h). */
#include "config.h"

#include "probe/net/circ.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/caps.h"
#include "lib/timeutil.h"
#include "lib/vec.h"
#include "proto/cell.h"
#include "proto/channel.h"
#include "proto/relaymsg.h"

typedef struct circ_slot {
  uint32_t id;
  ep_ncirc_t *c;
} circ_slot_t;

struct ep_carrier {
  ep_loop_t *loop;
  ep_link_t *link;           /* NULL once failed or closed */
  ep_carrier_cbs_t cbs;
  void *arg;
  bool open;
  unsigned depth;            /* inside a callback of ours */
  bool free_pending;
  ep_ncirc_t **waiting;      /* circuits asked for before the link opened, in order */
  size_t n_waiting, alloc_waiting;
  circ_slot_t *map;          /* created circuits, sorted by id */
  size_t n_map, alloc_map;
};

typedef enum ncirc_state { NC_WAIT_LINK = 0, NC_BUILDING, NC_OPEN, NC_GONE } ncirc_state_t;

struct ep_ncirc {
  ep_carrier_t *car;         /* NULL once the carrier is freed */
  ncirc_state_t state;
  ep_target_t ext[EP_CIRC_MAX_HOPS];
  size_t n_ext;
  ep_ncirc_cfg_t cfg;
  ep_ncirc_cbs_t cbs;
  void *arg;
  uint32_t id;
  unsigned hops;
  int64_t start_ms, build_ms;
  ep_timer_id_t timer;
  ep_streamrec_t **streams;  /* open streams */
  size_t n_streams, alloc_streams;
  unsigned depth;
  bool free_pending;
};


static ep_channel_t *ncirc_channel(const ep_ncirc_t *c) {
  return c->car != NULL ? ep_link_channel(c->car->link) : NULL;
}

/* ------------------------------------------------------------ the map */

static size_t map_lower_bound(const ep_carrier_t *car, uint32_t id) {
  size_t lo = 0, hi = car->n_map;
  while (lo < hi) {
    size_t mid = lo + (hi - lo) / 2;
    if (car->map[mid].id < id) {
      lo = mid + 1;
    } else {
      hi = mid;
    }
  }
  return lo;
}

static ep_ncirc_t *map_find(const ep_carrier_t *car, uint32_t id) {
  size_t i = map_lower_bound(car, id);
  return (i < car->n_map && car->map[i].id == id) ? car->map[i].c : NULL;
}

static int map_add(ep_carrier_t *car, uint32_t id, ep_ncirc_t *c, ep_err_t *err) {
  size_t i = map_lower_bound(car, id);
  if (i < car->n_map && car->map[i].id == id) {
    car->map[i].c = c;
    return EP_OK;
  }
  int rc = EP_VEC_RESERVE(car->map, car->alloc_map, car->n_map + 1, EP_CAP_CIRCS_PER_CHAN,
                          "circuits of a link", err);
  if (rc != EP_OK) {
    return rc;
  }
  memmove(&car->map[i + 1], &car->map[i], (car->n_map - i) * sizeof *car->map);
  car->map[i] = (circ_slot_t){id, c};
  car->n_map++;
  return EP_OK;
}

/* Take c off its carrier (map or waiting list). */
static void carrier_detach(ep_carrier_t *car, ep_ncirc_t *c) {
  if (car == NULL) {
    return;
  }
  size_t i = map_lower_bound(car, c->id);
  if (c->id != 0 && i < car->n_map && car->map[i].c == c) {
    memmove(&car->map[i], &car->map[i + 1], (car->n_map - i - 1) * sizeof *car->map);
    car->n_map--;
  }
  for (size_t k = 0; k < car->n_waiting; k++) {
    if (car->waiting[k] == c) {
      memmove(&car->waiting[k], &car->waiting[k + 1], (car->n_waiting - k - 1) * sizeof *car->waiting);
      car->n_waiting--;
      break;
    }
  }
}

/* ------------------------------------------------------------ streams */

static void set_srec_state(ep_streamrec_t *rec, ep_srec_state_t to) { rec->state = to; }

void ep_streamrec_init(ep_streamrec_t *rec, uint8_t *storage, size_t cap) {
  memset(rec, 0, sizeof *rec);
  rec->data = storage;
  rec->data_cap = storage != NULL ? cap : 0;
  rec->connected_ms = rec->first_byte_ms = rec->end_ms = -1;
  rec->end_ttl = rec->conn_ttl = EP_TTL_ABSENT;
  set_srec_state(rec, EP_SREC_IDLE);
}

/* The stream is over for the driver: no more events, no deadline. */
static void srec_detach(ep_ncirc_t *c, ep_streamrec_t *rec) {
  for (size_t i = 0; i < c->n_streams; i++) {
    if (c->streams[i] == rec) {
      c->streams[i] = c->streams[--c->n_streams];
      break;
    }
  }
  if (rec->timer != 0 && c->car != NULL) {
    ep_loop_timer_cancel(c->car->loop, rec->timer);
  }
  rec->timer = 0;
  rec->circ = NULL;
  if (rec->state != EP_SREC_IDLE) {
    set_srec_state(rec, EP_SREC_CLOSED);
  }
}

static void ncirc_release_if_due(ep_ncirc_t *c) {
  if (c->depth == 0 && c->free_pending) {
    free(c->streams);
    free(c);
  }
}

static void srec_report(ep_ncirc_t *c, ep_streamrec_t *rec, ep_srec_what_t what, const ep_event_t *ev) {
  if (c->cbs.stream == NULL) {
    return;
  }
  c->depth++;
  c->cbs.stream(c->arg, c, rec, what, ev);
  c->depth--;
}

static void on_srec_deadline(ep_loop_t *loop, void *arg) {
  (void)loop;
  ep_streamrec_t *rec = arg;
  ep_ncirc_t *c = rec->circ;
  rec->timer = 0;
  rec->deadline_hit = true;
  ep_ncirc_end(c, rec, EP_END_DONE);
  c->depth++;
  srec_report(c, rec, EP_SREC_DEADLINE, NULL);
  c->depth--;
  ncirc_release_if_due(c);
}

static void srec_append(ep_streamrec_t *rec, const uint8_t *p, size_t n, int64_t since) {
  if (rec->first_byte_ms < 0) {
    rec->first_byte_ms = since;
  }
  rec->data_total += n;
  size_t room = rec->data_cap - rec->data_len;
  size_t take = n < room ? n : room;
  if (take > 0) {
    memcpy(rec->data + rec->data_len, p, take);
    rec->data_len += take;
  }
}

/* Record a stream event, then tell the owner. */
static void srec_on_event(ep_ncirc_t *c, ep_streamrec_t *rec, const ep_event_t *ev) {
  int64_t since = ep_now_ms() - rec->begin_ms;
  ep_srec_what_t what;
  switch (ev->type) {
    case EP_EV_STREAM_CONNECTED:
      rec->connected = true;
      rec->connected_ms = since;
      rec->conn_has_addr = ev->has_addr;
      rec->conn_addr = ev->addr;
      rec->conn_ttl = ev->ttl;
      set_srec_state(rec, EP_SREC_OPEN);
      what = EP_SREC_CONNECTED;
      break;
    case EP_EV_STREAM_DATA:
      srec_append(rec, ev->data, ev->len, since);
      what = EP_SREC_DATA;
      break;
    case EP_EV_STREAM_END:
      rec->ended = true;
      rec->end_reason = ev->reason;
      rec->end_empty = ev->end_empty;
      rec->end_has_addr = ev->has_addr;
      rec->end_addr = ev->addr;
      rec->end_ttl = ev->ttl;
      rec->end_ms = since;
      srec_detach(c, rec);
      what = EP_SREC_END;
      break;
    case EP_EV_STREAM_WRITABLE:
      what = EP_SREC_WRITABLE;
      break;
    case EP_EV_STREAM_RESOLVED:
      rec->resolved = true;
      rec->end_ms = since;
      srec_append(rec, ev->data, ev->len, since);
      srec_detach(c, rec);
      what = EP_SREC_RESOLVED;
      break;
    default:
      return;
  }
  srec_report(c, rec, what, ev);
}

static ep_streamrec_t *find_srec(const ep_ncirc_t *c, uint16_t id) {
  for (size_t i = 0; i < c->n_streams; i++) {
    if (c->streams[i]->id == id) {
      return c->streams[i];
    }
  }
  return NULL;
}

int ep_ncirc_begin(ep_ncirc_t *c, ep_streamrec_t *rec, const char *host, uint16_t port,
                   int64_t timeout_ms, ep_err_t *err) {
  return ep_ncirc_begin_flags(c, rec, host, port, 0, timeout_ms, err);
}

/* Start what rec records: BEGIN host:port (host NULL: BEGIN_DIR) or,
 * with resolve, RESOLVE host. */
static int srec_start(ep_ncirc_t *c, ep_streamrec_t *rec, const char *host, uint16_t port,
                      uint32_t flags, bool resolve, int64_t timeout_ms, ep_err_t *err) {
  ep_channel_t *ch = ncirc_channel(c);
  if (ch == NULL || c->state != NC_OPEN) {
    return ep_err_set(err, EP_ERR_STATE, "stream: the circuit is not open");
  }
  int rc = EP_VEC_RESERVE(c->streams, c->alloc_streams, c->n_streams + 1, EP_CAP_STREAMS_PER_CIRC,
                          "streams of a circuit", err);
  if (rc != EP_OK) {
    return rc;
  }
  ep_streamrec_init(rec, rec->data, rec->data_cap);
  if (resolve) {
    rc = ep_channel_stream_resolve(ch, c->id, host, &rec->id, err);
  } else {
    rc = host == NULL ? ep_channel_stream_begin_dir(ch, c->id, &rec->id, err)
                      : ep_channel_stream_begin(ch, c->id, host, port, flags, &rec->id, err);
  }
  if (rc != EP_OK) {
    return rc;
  }
  rec->resolve = resolve;
  c->streams[c->n_streams++] = rec;
  rec->circ = c;
  rec->begin_ms = ep_now_ms();
  set_srec_state(rec, EP_SREC_BEGUN);
  if (timeout_ms > 0) {
    rec->timer = ep_loop_timer_in(c->car->loop, timeout_ms, on_srec_deadline, rec);
  }
  return EP_OK;
}

int ep_ncirc_begin_flags(ep_ncirc_t *c, ep_streamrec_t *rec, const char *host, uint16_t port,
                         uint32_t flags, int64_t timeout_ms, ep_err_t *err) {
  return srec_start(c, rec, host, port, flags, false, timeout_ms, err);
}

int ep_ncirc_resolve(ep_ncirc_t *c, ep_streamrec_t *rec, const char *host, int64_t timeout_ms,
                     ep_err_t *err) {
  if (host == NULL) {
    return ep_err_set(err, EP_ERR_MALFORMED, "RESOLVE: no name");
  }
  return srec_start(c, rec, host, 0, 0, true, timeout_ms, err);
}

int ep_ncirc_write(ep_ncirc_t *c, ep_streamrec_t *rec, const uint8_t *data, size_t n,
                   size_t *written, ep_err_t *err) {
  ep_channel_t *ch = ncirc_channel(c);
  *written = 0;
  if (ch == NULL || rec->circ != c) {
    return ep_err_set(err, EP_ERR_STATE, "stream: not open");
  }
  int rc = ep_channel_stream_write(ch, c->id, rec->id, data, n, written, err);
  return rc;
}

void ep_ncirc_end(ep_ncirc_t *c, ep_streamrec_t *rec, uint8_t reason) {
  if (c == NULL || rec->circ != c) {
    return;
  }
  ep_channel_t *ch = ncirc_channel(c);
  if (ch != NULL && c->state == NC_OPEN) {
    ep_channel_stream_end(ch, c->id, rec->id, reason, NULL);
  }
  srec_detach(c, rec);
}

/* ----------------------------------------------------------- circuits */

static void set_ncirc_state(ep_ncirc_t *c, ncirc_state_t to) { c->state = to; }

/* Cancel what is armed and forget the streams. */
static void ncirc_disarm(ep_ncirc_t *c) {
  if (c->timer != 0 && c->car != NULL) {
    ep_loop_timer_cancel(c->car->loop, c->timer);
  }
  c->timer = 0;
  while (c->n_streams > 0) {
    srec_detach(c, c->streams[c->n_streams - 1]);
  }
}

/* Off the link: DESTROY first when `destroy` (the relays still hold it),
 * deadlines cancelled, streams forgotten, out of the carrier's map. */
static void ncirc_cut(ep_ncirc_t *c, bool destroy) {
  ep_channel_t *ch = ncirc_channel(c);
  if (destroy && ch != NULL && c->id != 0) {
    ep_channel_circ_destroy(ch, c->id);
  }
  ncirc_disarm(c);
  carrier_detach(c->car, c);
}

/* Report the failure once. `destroy`: the relays still hold the circuit. */
static void ncirc_fail(ep_ncirc_t *c, ep_ncirc_failure_t *f, bool destroy) {
  if (c->state == NC_GONE) {
    return;
  }
  ncirc_cut(c, destroy);
  f->hops = c->hops;
  f->hop = c->state == NC_OPEN ? c->hops : c->hops + 1;
  f->created = c->id != 0;
  set_ncirc_state(c, NC_GONE);
  c->depth++;
  c->cbs.failed(c->arg, c, f);
  c->depth--;
}

static void ncirc_fail_msg(ep_ncirc_t *c, ep_ncirc_fail_t why, int status, bool destroy,
                           const char *fmt, ...) __attribute__((format(printf, 5, 6)));
static void ncirc_fail_msg(ep_ncirc_t *c, ep_ncirc_fail_t why, int status, bool destroy,
                           const char *fmt, ...) {
  ep_ncirc_failure_t f = {.why = why, .status = status};
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(f.msg, sizeof f.msg, fmt, ap);
  va_end(ap);
  ncirc_fail(c, &f, destroy);
}

static void on_build_deadline(ep_loop_t *loop, void *arg) {
  (void)loop;
  ep_ncirc_t *c = arg;
  c->timer = 0;
  c->depth++;
  ncirc_fail_msg(c, EP_NCIRC_TIMEOUT, EP_ERR_TIMEOUT, true, "circuit not built within %lld ms",
                 (long long)c->cfg.build_timeout_ms);
  c->depth--;
  ncirc_release_if_due(c);
}

/* CREATE on the open link. */
static int ncirc_create(ep_ncirc_t *c, ep_err_t *err) {
  ep_channel_t *ch = ncirc_channel(c);
  if (ch == NULL) {
    return ep_err_set(err, EP_ERR_STATE, "no channel");
  }
  uint32_t id = 0;
  int rc = ep_channel_circ_create(ch, c->cfg.kind, &id, err);
  if (rc != EP_OK) {
    return rc;
  }
  rc = map_add(c->car, id, c, err);
  if (rc != EP_OK) {
    ep_channel_circ_destroy(ch, id);
    return rc;
  }
  c->id = id;
  c->start_ms = ep_now_ms();
  set_ncirc_state(c, NC_BUILDING);
  if (c->cfg.build_timeout_ms > 0) {
    c->timer = ep_loop_timer_in(c->car->loop, c->cfg.build_timeout_ms, on_build_deadline, c);
  }
  return EP_OK;
}

/* CIRC_OPEN: extend to the next hop, or the circuit is built. */
static void ncirc_hop_built(ep_ncirc_t *c, unsigned hops) {
  c->hops = hops;
  if (hops < 1 + c->n_ext) {
    if (c->cbs.hop != NULL) {
      c->cbs.hop(c->arg, c, hops);
    }
    if (c->state != NC_BUILDING || c->free_pending) {
      return;
    }
    ep_err_t err = {0};
    if (ep_channel_circ_extend(ncirc_channel(c), c->id, &c->ext[hops - 1], &err) != EP_OK) {
      ncirc_fail_msg(c, EP_NCIRC_LOCAL, err.code, true, "%s", err.msg);
      return;
    }
    return;
  }
  if (c->timer != 0) {
    ep_loop_timer_cancel(c->car->loop, c->timer);
    c->timer = 0;
  }
  c->build_ms = ep_now_ms() - c->start_ms;
  set_ncirc_state(c, NC_OPEN);
  c->cbs.opened(c->arg, c);
}

/* CIRC_DESTROYED: the channel has already forgotten the circuit. */
static void ncirc_destroyed(ep_ncirc_t *c, const ep_event_t *ev) {
  ep_ncirc_failure_t f = {.reason = ev->reason, .truncated = ev->truncated, .status = ev->status,
                          .ev = ev};
  if (ev->remote) {
    char rb[48];
    f.why = ev->phase == EP_CIRC_PHASE_OPEN ? EP_NCIRC_DESTROYED : EP_NCIRC_EXTEND_REFUSED;
    snprintf(f.msg, sizeof f.msg, "circuit destroyed after %u hop(s): %s; %.150s", ev->hops,
             ep_destroy_reason_format(rb, sizeof rb, ev->reason), ev->msg);
  } else {
    f.why = (ev->status != 0 && ev->status != EP_ERR_TIMEOUT) ? EP_NCIRC_PROTOCOL : EP_NCIRC_DESTROYED;
    snprintf(f.msg, sizeof f.msg, "%.200s", ev->msg); /* names the hop and the failure */
  }
  carrier_detach(c->car, c);
  c->hops = ev->hops;
  ncirc_fail(c, &f, false);
}

static void ncirc_on_event(ep_ncirc_t *c, const ep_event_t *ev) {
  c->depth++;
  switch (ev->type) {
    case EP_EV_CIRC_OPEN:
      ncirc_hop_built(c, ev->hops);
      break;
    case EP_EV_CIRC_DESTROYED:
      ncirc_destroyed(c, ev);
      break;
    case EP_EV_CIRC_WRITABLE:
      for (size_t i = 0; i < c->n_streams && !c->free_pending; i++) {
        srec_report(c, c->streams[i], EP_SREC_WRITABLE, ev);
      }
      break;
    default: {
      ep_streamrec_t *rec = find_srec(c, ev->stream_id);
      if (rec != NULL) {
        srec_on_event(c, rec, ev);
      }
      break;
    }
  }
  c->depth--;
  ncirc_release_if_due(c);
}

ep_ncirc_t *ep_ncirc_new(ep_carrier_t *car, const ep_target_t *ext, size_t n_ext,
                         const ep_ncirc_cfg_t *cfg, const ep_ncirc_cbs_t *cbs, void *arg,
                         ep_err_t *err) {
  if (car->link == NULL || car->free_pending) {
    ep_err_set(err, EP_ERR_STATE, "the link is closed");
    return NULL;
  }
  if (n_ext >= EP_CIRC_MAX_HOPS) {
    ep_err_set(err, EP_ERR_LIMIT, "circuit: %zu hops, at most %d", n_ext + 1, EP_CIRC_MAX_HOPS);
    return NULL;
  }
  ep_ncirc_t *c = calloc(1, sizeof *c);
  if (c == NULL) {
    ep_err_set(err, EP_ERR_NOMEM, "out of memory");
    return NULL;
  }
  c->car = car;
  if (n_ext > 0) {
    memcpy(c->ext, ext, n_ext * sizeof *ext);
  }
  c->n_ext = n_ext;
  if (cfg != NULL) {
    c->cfg = *cfg;
  }
  if (c->cfg.kind == 0) {
    c->cfg.kind = EP_CREATE_NTOR;
  }
  c->cbs = *cbs;
  c->arg = arg;
  c->build_ms = -1;
  int rc = EP_OK;
  if (car->open) {
    rc = ncirc_create(c, err);
  } else {
    rc = EP_VEC_RESERVE(car->waiting, car->alloc_waiting, car->n_waiting + 1, EP_CAP_CIRCS_PER_CHAN,
                        "circuits waiting for a link", err);
    if (rc == EP_OK) {
      car->waiting[car->n_waiting++] = c;
    }
  }
  if (rc != EP_OK) {
    free(c);
    return NULL;
  }
  return c;
}

void ep_ncirc_free(ep_ncirc_t *c) {
  if (c == NULL || c->free_pending) {
    return;
  }
  ncirc_cut(c, c->state != NC_GONE);
  set_ncirc_state(c, NC_GONE);
  c->free_pending = true;
  ncirc_release_if_due(c);
}

uint32_t ep_ncirc_id(const ep_ncirc_t *c) { return c->id; }
int64_t ep_ncirc_build_ms(const ep_ncirc_t *c) { return c->build_ms; }

/* ----------------------------------------------------------- carriers */

static void carrier_release_if_due(ep_carrier_t *car) {
  if (car->depth == 0 && car->free_pending) {
    free(car->waiting);
    free(car->map);
    free(car);
  }
}

/* The link is up: create every circuit that waited for it, in order. */
static void carrier_opened(ep_carrier_t *car) {
  car->open = true;
  if (car->cbs.open != NULL) {
    car->cbs.open(car->arg, car);
  }
  while (car->n_waiting > 0 && !car->free_pending && car->link != NULL) {
    ep_ncirc_t *c = car->waiting[0];
    memmove(&car->waiting[0], &car->waiting[1], (car->n_waiting - 1) * sizeof *car->waiting);
    car->n_waiting--;
    ep_err_t err = {0};
    if (ncirc_create(c, &err) != EP_OK) {
      c->depth++;
      ncirc_fail_msg(c, EP_NCIRC_LOCAL, err.code, false, "%s", err.msg);
      c->depth--;
      ncirc_release_if_due(c);
    }
  }
}

/* The link failed: the owner first, then every circuit on it. */
static void carrier_closed(ep_carrier_t *car, const ep_event_t *ev) {
  car->link = NULL; /* the link closes itself after this event */
  car->open = false;
  if (car->cbs.closed != NULL) {
    car->cbs.closed(car->arg, car, ev);
  }
  while (!car->free_pending && (car->n_waiting > 0 || car->n_map > 0)) {
    ep_ncirc_t *c = car->n_waiting > 0 ? car->waiting[0] : car->map[0].c;
    carrier_detach(car, c);
    ep_ncirc_failure_t f = {.why = EP_NCIRC_LINK, .status = ev->status, .ev = ev};
    snprintf(f.msg, sizeof f.msg, "%s", ev->msg);
    c->depth++;
    ncirc_fail(c, &f, false);
    c->depth--;
    ncirc_release_if_due(c);
  }
}

static void carrier_on_event(void *arg, ep_link_t *link, const ep_event_t *ev) {
  (void)link;
  ep_carrier_t *car = arg;
  car->depth++;
  if (ev->type == EP_EV_CHAN_OPEN) {
    carrier_opened(car);
  } else if (ev->type == EP_EV_CHAN_CLOSED) {
    carrier_closed(car, ev);
  } else if (!car->free_pending) {
    ep_ncirc_t *c = map_find(car, ev->circ_id);
    if (c != NULL) {
      ncirc_on_event(c, ev);
    }
  }
  car->depth--;
  carrier_release_if_due(car);
}

ep_carrier_t *ep_carrier_open(ep_loop_t *loop, ep_tls_ctx_t *tls, const ep_target_t *first,
                              const ep_link_cfg_t *cfg, const ep_carrier_cbs_t *cbs, void *arg,
                              ep_err_t *err) {
  ep_carrier_t *car = calloc(1, sizeof *car);
  if (car == NULL) {
    ep_err_set(err, EP_ERR_NOMEM, "out of memory");
    return NULL;
  }
  car->loop = loop;
  if (cbs != NULL) {
    car->cbs = *cbs;
  }
  car->arg = arg;
  car->link = ep_link_open(loop, tls, first, cfg, carrier_on_event, car, err);
  if (car->link == NULL) {
    free(car);
    return NULL;
  }
  return car;
}

void ep_carrier_free(ep_carrier_t *car) {
  if (car == NULL || car->free_pending) {
    return;
  }
  /* Circuits left on it are cut loose: no callbacks, no cells. */
  while (car->n_waiting > 0 || car->n_map > 0) {
    ep_ncirc_t *c = car->n_waiting > 0 ? car->waiting[0] : car->map[0].c;
    carrier_detach(car, c);
    ncirc_disarm(c);
    set_ncirc_state(c, NC_GONE);
    c->car = NULL;
  }
  ep_link_close(car->link);
  car->link = NULL;
  car->free_pending = true;
  carrier_release_if_due(car);
}

ep_link_t *ep_carrier_link(ep_carrier_t *car) { return car->link; }
bool ep_carrier_is_open(const ep_carrier_t *car) { return car->open && car->link != NULL; }

void ep_carrier_rebind(ep_carrier_t *car, const ep_carrier_cbs_t *cbs, void *arg) {
  car->cbs = cbs != NULL ? *cbs : (ep_carrier_cbs_t){0};
  car->arg = arg;
}

size_t ep_carrier_n_circuits(const ep_carrier_t *car) { return car->n_map + car->n_waiting; }
