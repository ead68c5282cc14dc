/* exitprobe — CREATE_FAST / CREATED_FAST (tor-spec §5.1.5). */
#include "config.h"

#include "proto/fast.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "lib/crypto.h"
#include "lib/reader.h"
#include "proto/kdf.h"

struct ep_fast_client {
  uint8_t x[EP_FAST_HANDSHAKE_LEN];
  bool done;
};

/* KDF-TOR(X | Y) = KH | keys. Writes KH and keylen bytes of keys. */
static int fast_derive(const uint8_t x[20], const uint8_t y[20], uint8_t kh[EP_FAST_KH_LEN],
                       uint8_t *keys, size_t keylen) {
  if (keylen > EP_KDF_TOR_MAX_OUT - EP_FAST_KH_LEN) {
    return EP_ERR_LIMIT;
  }
  uint8_t k0[40];
  memcpy(k0, x, 20);
  memcpy(k0 + 20, y, 20);
  size_t total = EP_FAST_KH_LEN + keylen;
  uint8_t *k = malloc(total);
  if (k == NULL) {
    ep_wipe(k0, sizeof k0);
    return EP_ERR_NOMEM;
  }
  int rc = ep_kdf_tor(k, total, k0, sizeof k0);
  if (rc == EP_OK) {
    memcpy(kh, k, EP_FAST_KH_LEN);
    if (keylen > 0) {
      memcpy(keys, k + EP_FAST_KH_LEN, keylen);
    }
  }
  ep_wipe(k, total);
  free(k);
  ep_wipe(k0, sizeof k0);
  return rc;
}

static int fast_start(ep_fast_client_t **out, const uint8_t *x,
                      uint8_t x_out[EP_FAST_HANDSHAKE_LEN]) {
  *out = NULL;
  ep_fast_client_t *st = calloc(1, sizeof *st);
  if (st == NULL) {
    return EP_ERR_NOMEM;
  }
  if (x == NULL) {
    ep_random(st->x, sizeof st->x);
  } else {
    memcpy(st->x, x, sizeof st->x);
  }
  memcpy(x_out, st->x, EP_FAST_HANDSHAKE_LEN);
  *out = st;
  return EP_OK;
}

int ep_fast_client_start(ep_fast_client_t **out, uint8_t x_out[EP_FAST_HANDSHAKE_LEN]) {
  return fast_start(out, NULL, x_out);
}

int ep_fast_client_start_with_secret(ep_fast_client_t **out, const uint8_t x[EP_FAST_HANDSHAKE_LEN],
                                     uint8_t x_out[EP_FAST_HANDSHAKE_LEN]) {
  return fast_start(out, x, x_out);
}

int ep_fast_client_finish(ep_fast_client_t *st, const uint8_t reply[EP_FAST_REPLY_LEN],
                          uint8_t *keys, size_t keylen, ep_err_t *err) {
  if (keylen > 0) {
    memset(keys, 0, keylen);
  }
  if (st == NULL || st->done) {
    return ep_err_set(err, EP_ERR_STATE, "create_fast: handshake already finished");
  }
  if (keylen > EP_KDF_TOR_MAX_OUT - EP_FAST_KH_LEN) {
    return ep_err_set(err, EP_ERR_LIMIT, "create_fast: %zu bytes of keys asked, at most %u",
                      keylen, EP_KDF_TOR_MAX_OUT - EP_FAST_KH_LEN);
  }
  uint8_t y[20], kh_got[EP_FAST_KH_LEN], kh_want[EP_FAST_KH_LEN];
  ep_reader_t r;
  ep_reader_init(&r, reply, EP_FAST_REPLY_LEN);
  ep_rd_bytes(&r, y, sizeof y);
  ep_rd_bytes(&r, kh_got, sizeof kh_got);

  int rc = fast_derive(st->x, y, kh_want, keys, keylen);
  ep_wipe(st->x, sizeof st->x);
  st->done = true;
  if (rc != EP_OK) {
    if (keylen > 0) {
      ep_wipe(keys, keylen);
    }
    return ep_err_set(err, rc, "create_fast: key derivation failed");
  }
  bool ok = ep_ct_eq(kh_want, kh_got, sizeof kh_want);
  ep_wipe(kh_want, sizeof kh_want);
  if (!ok) {
    if (keylen > 0) {
      ep_wipe(keys, keylen);
    }
    return ep_err_set(err, EP_ERR_VERIFY,
                      "create_fast: CREATED_FAST derivative key data (KH) does not match");
  }
  return EP_OK;
}

void ep_fast_client_free(ep_fast_client_t *st) {
  if (st == NULL) {
    return;
  }
  ep_wipe(st, sizeof *st);
  free(st);
}

int ep_fast_server_handshake(const uint8_t x[EP_FAST_HANDSHAKE_LEN], const uint8_t *y,
                             uint8_t reply[EP_FAST_REPLY_LEN], uint8_t *keys, size_t keylen,
                             ep_err_t *err) {
  memset(reply, 0, EP_FAST_REPLY_LEN);
  if (keylen > 0) {
    memset(keys, 0, keylen);
  }
  uint8_t ybuf[20], kh[EP_FAST_KH_LEN];
  if (y == NULL) {
    ep_random(ybuf, sizeof ybuf);
  } else {
    memcpy(ybuf, y, sizeof ybuf);
  }
  int rc = fast_derive(x, ybuf, kh, keys, keylen);
  if (rc != EP_OK) {
    ep_wipe(ybuf, sizeof ybuf);
    return ep_err_set(err, rc, "create_fast server: key derivation failed");
  }
  ep_writer_t w;
  ep_writer_init(&w, reply, EP_FAST_REPLY_LEN);
  ep_wr_bytes(&w, ybuf, sizeof ybuf);
  ep_wr_bytes(&w, kh, sizeof kh);
  ep_wipe(ybuf, sizeof ybuf);
  ep_wipe(kh, sizeof kh);
  return EP_OK;
}
