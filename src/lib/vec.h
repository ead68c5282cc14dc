/* exitprobe — the one capped growable array.
 *
 * An array that grows with input is a pointer and two counts kept in the
 * owner's struct (T *v; size_t n, alloc). Before appending, the owner makes
 * room with EP_VEC_RESERVE: capacity doubles (from 8), never past a named
 * cap of elements; past the cap it fails with EP_ERR_LIMIT naming the array,
 * and the array is left as it was, so the caller can stop cleanly or skip.
 *
 *   if (EP_VEC_RESERVE(l->v, l->alloc, l->n + 1, EP_CAP_X, "microdescs", err) != EP_OK) {
 *     return err->code;   // or the status returned
 *   }
 *   l->v[l->n++] = item;
 */
#ifndef EP_LIB_VEC_H
#define EP_LIB_VEC_H

#include <stddef.h>

#include "lib/err.h"

/* Make room for `need` elements of `elem` bytes in the array whose pointer
 * is at `arrp` (a T **), with *alloc elements allocated. At most `cap`
 * elements. Returns EP_OK, EP_ERR_LIMIT or EP_ERR_NOMEM (err, if given,
 * says which array). */
int ep_vec_reserve(void *arrp, size_t *alloc, size_t need, size_t elem, size_t cap,
                   const char *what, ep_err_t *err);

#define EP_VEC_RESERVE(arr, alloc, need, cap, what, err) \
  ep_vec_reserve(&(arr), &(alloc), (need), sizeof *(arr), (cap), (what), (err))

#endif
