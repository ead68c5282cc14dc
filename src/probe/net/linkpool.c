/* exitprobe — links to first hops kept between scan rounds (see linkpool.h). */
#include "config.h"

#include "probe/net/linkpool.h"

#include <stdlib.h>
#include <string.h>

#include "lib/log.h"

/* Few first hops per scan, taken by a linear search. */
#define EP_LINKPOOL_MAX 4096

typedef struct pooled {
  uint8_t rsa_id[20];
  ep_carrier_t *car;
  int64_t since_ms;
} pooled_t;

struct ep_linkpool {
  pooled_t *v;
  size_t n, alloc;
  int64_t max_idle_ms;
};

ep_linkpool_t *ep_linkpool_new(int64_t max_idle_ms) {
  ep_linkpool_t *p = calloc(1, sizeof *p);
  if (p != NULL) {
    p->max_idle_ms = max_idle_ms;
  }
  return p;
}

static void drop_at(ep_linkpool_t *p, size_t i) {
  p->v[i] = p->v[p->n - 1];
  p->n--;
}

static size_t find_id(const ep_linkpool_t *p, const uint8_t rsa_id[20]) {
  for (size_t i = 0; i < p->n; i++) {
    if (memcmp(p->v[i].rsa_id, rsa_id, 20) == 0) {
      return i;
    }
  }
  return SIZE_MAX;
}

/* The relay closed a pooled link: forget it (the carrier is freed when this
 * callback returns). */
static void on_pooled_closed(void *arg, ep_carrier_t *car, const ep_event_t *ev) {
  ep_linkpool_t *p = arg;
  for (size_t i = 0; i < p->n; i++) {
    if (p->v[i].car == car) {
      ep_info("linkpool: an idle link closed: %s", ev->msg);
      drop_at(p, i);
      ep_carrier_free(car);
      return;
    }
  }
}

/* Close the links idle for longer than the pool keeps them (first hops a
 * round did not use again). */
static void expire(ep_linkpool_t *p, int64_t now_ms) {
  for (size_t i = 0; i < p->n;) {
    if (now_ms - p->v[i].since_ms > p->max_idle_ms) {
      ep_carrier_t *car = p->v[i].car;
      drop_at(p, i);
      ep_carrier_free(car);
    } else {
      i++;
    }
  }
}

void ep_linkpool_put(ep_linkpool_t *p, const uint8_t rsa_id[20], ep_carrier_t *car, int64_t now_ms) {
  if (p != NULL) {
    expire(p, now_ms);
  }
  if (car == NULL) {
    return;
  }
  if (p == NULL || !ep_carrier_is_open(car) || ep_carrier_n_circuits(car) > 0 ||
      find_id(p, rsa_id) != SIZE_MAX ||
      p->n >= EP_LINKPOOL_MAX) {
    ep_carrier_free(car);
    return;
  }
  if (p->n == p->alloc) {
    size_t na = p->alloc ? 2 * p->alloc : 16;
    pooled_t *nv = realloc(p->v, na * sizeof *nv);
    if (nv == NULL) {
      ep_carrier_free(car);
      return;
    }
    p->v = nv;
    p->alloc = na;
  }
  static const ep_carrier_cbs_t pooled_cbs = {.closed = on_pooled_closed};
  ep_carrier_rebind(car, &pooled_cbs, p);
  pooled_t *e = &p->v[p->n++];
  memcpy(e->rsa_id, rsa_id, 20);
  e->car = car;
  e->since_ms = now_ms;
}

ep_carrier_t *ep_linkpool_take(ep_linkpool_t *p, const uint8_t rsa_id[20], int64_t now_ms,
                               const ep_carrier_cbs_t *cbs, void *arg) {
  size_t i = p != NULL ? find_id(p, rsa_id) : SIZE_MAX;
  if (i == SIZE_MAX) {
    return NULL;
  }
  pooled_t e = p->v[i];
  drop_at(p, i);
  if (!ep_carrier_is_open(e.car) || now_ms - e.since_ms > p->max_idle_ms) {
    ep_carrier_free(e.car);
    return NULL;
  }
  ep_carrier_rebind(e.car, cbs, arg);
  return e.car;
}

size_t ep_linkpool_count(const ep_linkpool_t *p) { return p != NULL ? p->n : 0; }

void ep_linkpool_free(ep_linkpool_t *p) {
  if (p == NULL) {
    return;
  }
  for (size_t i = 0; i < p->n; i++) {
    ep_carrier_free(p->v[i].car);
  }
  free(p->v);
  free(p);
}
