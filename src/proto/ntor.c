/* exitprobe — the ntor handshake, client and relay side (tor-spec §5.1.4). */
#include "config.h"

#include "proto/ntor.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "lib/crypto.h"
#include "lib/reader.h"
#include "proto/kdf.h"

#define PROTOID "ntor-curve25519-sha256-1"
#define PROTOID_LEN (sizeof PROTOID - 1)
static const char t_mac[] = PROTOID ":mac";
static const char t_key[] = PROTOID ":key_extract";
static const char t_verify[] = PROTOID ":verify";
static const char m_expand[] = PROTOID ":key_expand";
static const char server_str[] = "Server";

/* EXP(.,.) | EXP(.,.) | ID | B | X | Y | PROTOID */
#define SECRET_INPUT_LEN (32 + 32 + 20 + 32 + 32 + 32 + PROTOID_LEN)
/* verify | ID | B | Y | X | PROTOID | "Server" */
#define AUTH_INPUT_LEN (32 + 20 + 32 + 32 + 32 + PROTOID_LEN + (sizeof server_str - 1))

struct ep_ntor_client {
  uint8_t x[32];
  uint8_t X[32];
  uint8_t id[20];
  uint8_t B[32];
  bool done;
};

/* Both sides compute the same KEY_SEED and AUTH from the two shared
 * secrets and the public values. */
static void ntor_compute(const uint8_t exp1[32], const uint8_t exp2[32], const uint8_t id[20],
                         const uint8_t B[32], const uint8_t X[32], const uint8_t Y[32],
                         uint8_t key_seed[32], uint8_t auth[32]) {
  uint8_t secret_input[SECRET_INPUT_LEN];
  uint8_t auth_input[AUTH_INPUT_LEN];
  uint8_t verify[32];
  ep_writer_t w;

  ep_writer_init(&w, secret_input, sizeof secret_input);
  ep_wr_bytes(&w, exp1, 32);
  ep_wr_bytes(&w, exp2, 32);
  ep_wr_bytes(&w, id, 20);
  ep_wr_bytes(&w, B, 32);
  ep_wr_bytes(&w, X, 32);
  ep_wr_bytes(&w, Y, 32);
  ep_wr_bytes(&w, PROTOID, PROTOID_LEN);

  ep_hmac_sha256(key_seed, t_key, sizeof t_key - 1, secret_input, sizeof secret_input);
  ep_hmac_sha256(verify, t_verify, sizeof t_verify - 1, secret_input, sizeof secret_input);

  ep_writer_init(&w, auth_input, sizeof auth_input);
  ep_wr_bytes(&w, verify, 32);
  ep_wr_bytes(&w, id, 20);
  ep_wr_bytes(&w, B, 32);
  ep_wr_bytes(&w, Y, 32);
  ep_wr_bytes(&w, X, 32);
  ep_wr_bytes(&w, PROTOID, PROTOID_LEN);
  ep_wr_bytes(&w, server_str, sizeof server_str - 1);

  ep_hmac_sha256(auth, t_mac, sizeof t_mac - 1, auth_input, sizeof auth_input);

  ep_wipe(secret_input, sizeof secret_input);
  ep_wipe(auth_input, sizeof auth_input);
  ep_wipe(verify, sizeof verify);
}

static int ntor_start(ep_ntor_client_t **out, const uint8_t id[20], const uint8_t B[32],
                      const uint8_t *x, uint8_t onionskin[EP_NTOR_ONIONSKIN_LEN]) {
  *out = NULL;
  memset(onionskin, 0, EP_NTOR_ONIONSKIN_LEN);
  ep_ntor_client_t *st = calloc(1, sizeof *st);
  if (st == NULL) {
    return EP_ERR_NOMEM;
  }
  if (x == NULL) {
    ep_x25519_keygen(st->x, st->X);
  } else {
    memcpy(st->x, x, 32);
    if (ep_x25519_base(st->X, st->x) != 0) {
      ep_ntor_client_free(st);
      return EP_ERR_INTERNAL;
    }
  }
  memcpy(st->id, id, 20);
  memcpy(st->B, B, 32);

  ep_writer_t w;
  ep_writer_init(&w, onionskin, EP_NTOR_ONIONSKIN_LEN);
  ep_wr_bytes(&w, st->id, 20);
  ep_wr_bytes(&w, st->B, 32);
  ep_wr_bytes(&w, st->X, 32);
  *out = st;
  return EP_OK;
}

int ep_ntor_client_start(ep_ntor_client_t **out, const uint8_t id[20], const uint8_t B[32],
                         uint8_t onionskin[EP_NTOR_ONIONSKIN_LEN]) {
  return ntor_start(out, id, B, NULL, onionskin);
}

int ep_ntor_client_start_with_secret(ep_ntor_client_t **out, const uint8_t id[20],
                                     const uint8_t B[32], const uint8_t x[32],
                                     uint8_t onionskin[EP_NTOR_ONIONSKIN_LEN]) {
  return ntor_start(out, id, B, x, onionskin);
}

int ep_ntor_client_finish(ep_ntor_client_t *st, const uint8_t reply[EP_NTOR_REPLY_LEN],
                          uint8_t *keys, size_t keylen, ep_err_t *err) {
  if (keylen > 0) {
    memset(keys, 0, keylen);
  }
  if (st == NULL || st->done) {
    return ep_err_set(err, EP_ERR_STATE, "ntor: handshake already finished");
  }
  if (keylen > EP_HKDF_SHA256_MAX_OUT) {
    return ep_err_set(err, EP_ERR_LIMIT, "ntor: %zu bytes of keys asked, at most %u",
                      keylen, EP_HKDF_SHA256_MAX_OUT);
  }

  uint8_t Y[32], auth_got[32];
  ep_reader_t r;
  ep_reader_init(&r, reply, EP_NTOR_REPLY_LEN);
  ep_rd_bytes(&r, Y, sizeof Y);
  ep_rd_bytes(&r, auth_got, sizeof auth_got);

  uint8_t exp_yx[32], exp_bx[32], key_seed[32], auth_want[32];
  int bad = 0;
  bad |= ep_x25519(exp_yx, st->x, Y) != 0;
  bad |= ep_x25519(exp_bx, st->x, st->B) != 0;
  ntor_compute(exp_yx, exp_bx, st->id, st->B, st->X, Y, key_seed, auth_want);
  bad |= !ep_ct_eq(auth_want, auth_got, sizeof auth_want);

  /* The handshake is over whatever the outcome: forget x. */
  ep_wipe(st->x, sizeof st->x);
  st->done = true;
  ep_wipe(exp_yx, sizeof exp_yx);
  ep_wipe(exp_bx, sizeof exp_bx);
  ep_wipe(auth_want, sizeof auth_want);

  int rc = EP_OK;
  if (bad) {
    rc = ep_err_set(err, EP_ERR_VERIFY,
                    "ntor: relay's reply does not authenticate (AUTH mismatch or degenerate key)");
  } else {
    rc = ep_hkdf_sha256_expand(keys, keylen, key_seed, (const uint8_t *)m_expand,
                               sizeof m_expand - 1);
    if (rc != EP_OK) {
      rc = ep_err_set(err, rc, "ntor: key expansion failed");
    }
  }
  ep_wipe(key_seed, sizeof key_seed);
  return rc;
}

void ep_ntor_client_free(ep_ntor_client_t *st) {
  if (st == NULL) {
    return;
  }
  ep_wipe(st, sizeof *st);
  free(st);
}

int ep_ntor_server_handshake(const uint8_t id[20], const uint8_t b[32], const uint8_t B[32],
                             const uint8_t onionskin[EP_NTOR_ONIONSKIN_LEN],
                             const uint8_t *y, uint8_t reply[EP_NTOR_REPLY_LEN],
                             uint8_t *keys, size_t keylen, ep_err_t *err) {
  memset(reply, 0, EP_NTOR_REPLY_LEN);
  if (keylen > 0) {
    memset(keys, 0, keylen);
  }
  if (keylen > EP_HKDF_SHA256_MAX_OUT) {
    return ep_err_set(err, EP_ERR_LIMIT, "ntor server: %zu bytes of keys asked, at most %u",
                      keylen, EP_HKDF_SHA256_MAX_OUT);
  }

  uint8_t req_id[20], req_B[32], X[32];
  ep_reader_t r;
  ep_reader_init(&r, onionskin, EP_NTOR_ONIONSKIN_LEN);
  ep_rd_bytes(&r, req_id, sizeof req_id);
  ep_rd_bytes(&r, req_B, sizeof req_B);
  ep_rd_bytes(&r, X, sizeof X);
  if (!ep_ct_eq(req_id, id, 20) || !ep_ct_eq(req_B, B, 32)) {
    return ep_err_set(err, EP_ERR_VERIFY,
                      "ntor server: onionskin is for another identity or onion key");
  }

  uint8_t ysec[32], Y[32];
  if (y == NULL) {
    ep_x25519_keygen(ysec, Y);
  } else {
    memcpy(ysec, y, 32);
    if (ep_x25519_base(Y, ysec) != 0) {
      ep_wipe(ysec, sizeof ysec);
      return ep_err_set(err, EP_ERR_INTERNAL, "ntor server: cannot derive Y");
    }
  }

  uint8_t exp_xy[32], exp_xb[32], key_seed[32], auth[32];
  int bad = 0;
  bad |= ep_x25519(exp_xy, ysec, X) != 0;
  bad |= ep_x25519(exp_xb, b, X) != 0;
  ntor_compute(exp_xy, exp_xb, id, B, X, Y, key_seed, auth);
  ep_wipe(ysec, sizeof ysec);
  ep_wipe(exp_xy, sizeof exp_xy);
  ep_wipe(exp_xb, sizeof exp_xb);

  int rc = EP_OK;
  if (bad) {
    rc = ep_err_set(err, EP_ERR_VERIFY, "ntor server: client key X is degenerate");
  } else {
    rc = ep_hkdf_sha256_expand(keys, keylen, key_seed, (const uint8_t *)m_expand,
                               sizeof m_expand - 1);
    if (rc != EP_OK) {
      rc = ep_err_set(err, rc, "ntor server: key expansion failed");
    } else {
      ep_writer_t w;
      ep_writer_init(&w, reply, EP_NTOR_REPLY_LEN);
      ep_wr_bytes(&w, Y, 32);
      ep_wr_bytes(&w, auth, 32);
    }
  }
  ep_wipe(key_seed, sizeof key_seed);
  ep_wipe(auth, sizeof auth);
  return rc;
}
