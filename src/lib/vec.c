/* exitprobe — the one capped growable array (vec.h). */
#include "config.h"

#include "lib/vec.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int ep_vec_reserve(void *arrp, size_t *alloc, size_t need, size_t elem, size_t cap,
                   const char *what, ep_err_t *err) {
  if (need <= *alloc) {
    return EP_OK;
  }
  if (what == NULL) {
    what = "array";
  }
  if (need > cap) {
    return ep_err_set(err, EP_ERR_LIMIT, "%s: more than %zu entries", what, cap);
  }
  size_t na = *alloc < 8 ? 8 : *alloc;
  while (na < need) {
    na = na > SIZE_MAX / 2 ? need : na * 2;
  }
  if (na > cap) {
    na = cap;
  }
  if (elem != 0 && na > SIZE_MAX / elem) {
    return ep_err_set(err, EP_ERR_NOMEM, "%s: %zu entries do not fit in memory", what, na);
  }
  /* The pointer is read and written through memcpy: arrp is a T **, and the
   * caller's T * keeps its own type. */
  void *old;
  memcpy(&old, arrp, sizeof old);
  void *p = realloc(old, na * elem);
  if (p == NULL) {
    return ep_err_set(err, EP_ERR_NOMEM, "%s: cannot allocate %zu entries", what, na);
  }
  memcpy(arrp, &p, sizeof p);
  *alloc = na;
  return EP_OK;
}
