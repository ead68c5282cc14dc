/* exitprobe — a pool of bytes from the system CSPRNG (ep_random), handed out
 * in small pieces.
 *
 * A probe's circuit needs many small random values: a circuit id, a stream
 * id, two ntor ephemeral secrets, and the padding of every relay cell it
 * sends (tor-spec §6.1: ~1.4 KiB per probe). Asked one by one, each is a
 * getrandom() system call; from a pool, one call serves EP_RNG_POOL_LEN bytes.
 * The bytes are the kernel CSPRNG's own, each handed out once and wiped from
 * the pool as it leaves; nothing is derived or reused. A pool belongs to one
 * owner (a channel); it is not shared between threads or processes. */
#ifndef EP_PROTO_RNGPOOL_H
#define EP_PROTO_RNGPOOL_H

#include <stddef.h>
#include <stdint.h>

#define EP_RNG_POOL_LEN 4096u

/* A source of random bytes: fn(ctx, out, n) fills out (e.g. ep_rng_pool_fn
 * with the pool as ctx). */
typedef void (*ep_random_fn)(void *ctx, void *out, size_t n);

typedef struct ep_rng_pool {
  uint8_t buf[EP_RNG_POOL_LEN];
  size_t pos;        /* bytes before pos have been handed out (and wiped) */
} ep_rng_pool_t;

/* An empty pool: the first request fills it. */
void ep_rng_pool_init(ep_rng_pool_t *p);
/* n random bytes into out (any n: requests larger than the pool are served
 * straight from ep_random). */
void ep_rng_pool_bytes(ep_rng_pool_t *p, void *out, size_t n);
/* Wipe what is left (call before freeing the pool's owner). */
void ep_rng_pool_wipe(ep_rng_pool_t *p);
/* The shape the circuit code takes a random source in (ctx = the pool). */
void ep_rng_pool_fn(void *ctx, void *out, size_t n);

#endif
