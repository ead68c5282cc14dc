/* exitprobe — tor1 relay cell crypto for one hop (tor-spec §5.5, §6.1). */
#include "config.h"

#include "proto/relaycrypt.h"

#include <stdlib.h>
#include <string.h>

#include "lib/crypto.h"

#define DF_OFF 0
#define DB_OFF 20
#define KF_OFF 40
#define KB_OFF 56

/* A running digest and a keystream for one direction. */
typedef struct relay_dir {
  ep_digest_t *digest;
  ep_aes_ctr_t *aes;
} relay_dir_t;

struct ep_relay_crypto {
  relay_dir_t fwd;        /* client -> hop: Df, Kf */
  relay_dir_t bwd;        /* hop -> client: Db, Kb */
  ep_digest_t *scratch;   /* trial digest for recognition, no allocation per cell */
};

static int dir_init(relay_dir_t *d, const uint8_t *seed, const uint8_t *key) {
  static const uint8_t zero_iv[16] = {0};
  d->digest = ep_digest_new(EP_DIGEST_SHA1);
  d->aes = ep_aes_ctr_new(key, zero_iv);
  if (d->digest == NULL || d->aes == NULL) {
    return -1;
  }
  ep_digest_update(d->digest, seed, EP_SHA1_LEN);
  return 0;
}

static void dir_free(relay_dir_t *d) {
  ep_digest_free(d->digest);
  ep_aes_ctr_free(d->aes);
  d->digest = NULL;
  d->aes = NULL;
}

ep_relay_crypto_t *ep_relay_crypto_new(const uint8_t keys[EP_RELAY_KEYS_LEN]) {
  ep_relay_crypto_t *c = calloc(1, sizeof *c);
  if (c == NULL) {
    return NULL;
  }
  if (dir_init(&c->fwd, keys + DF_OFF, keys + KF_OFF) != 0 ||
      dir_init(&c->bwd, keys + DB_OFF, keys + KB_OFF) != 0 ||
      (c->scratch = ep_digest_new(EP_DIGEST_SHA1)) == NULL) {
    ep_relay_crypto_free(c);
    return NULL;
  }
  return c;
}

void ep_relay_crypto_free(ep_relay_crypto_t *c) {
  if (c == NULL) {
    return;
  }
  dir_free(&c->fwd);
  dir_free(&c->bwd);
  ep_digest_free(c->scratch);
  ep_wipe(c, sizeof *c);
  free(c);
}

/* Set the digest field from the running digest d, then encrypt. */
static void dir_originate(relay_dir_t *d, uint8_t body[EP_RELAY_BODY_LEN]) {
  uint8_t full[EP_SHA1_LEN];
  memset(body + EP_RELAY_DIGEST_OFFSET, 0, EP_RELAY_DIGEST_LEN);
  ep_digest_update(d->digest, body, EP_RELAY_BODY_LEN);
  ep_digest_peek(d->digest, full, sizeof full);
  memcpy(body + EP_RELAY_DIGEST_OFFSET, full, EP_RELAY_DIGEST_LEN);
  ep_wipe(full, sizeof full);
  ep_aes_ctr_crypt(d->aes, body, EP_RELAY_BODY_LEN);
}

/* Decrypt, then decide whether the cell is for us (tor-spec §6.1). */
static bool dir_receive(relay_dir_t *d, ep_digest_t *scratch, uint8_t body[EP_RELAY_BODY_LEN]) {
  ep_aes_ctr_crypt(d->aes, body, EP_RELAY_BODY_LEN);
  if (body[1] != 0 || body[2] != 0) {
    return false;  /* 'recognized' is not zero: not for this hop */
  }
  uint8_t got[EP_RELAY_DIGEST_LEN];
  uint8_t full[EP_SHA1_LEN];
  memcpy(got, body + EP_RELAY_DIGEST_OFFSET, sizeof got);
  memset(body + EP_RELAY_DIGEST_OFFSET, 0, EP_RELAY_DIGEST_LEN);
  if (ep_digest_copy_state(scratch, d->digest) != 0) {
    memcpy(body + EP_RELAY_DIGEST_OFFSET, got, sizeof got);
    return false;
  }
  ep_digest_update(scratch, body, EP_RELAY_BODY_LEN);
  ep_digest_peek(scratch, full, sizeof full);
  memcpy(body + EP_RELAY_DIGEST_OFFSET, got, sizeof got);
  bool ok = ep_ct_eq(full, got, EP_RELAY_DIGEST_LEN);
  ep_wipe(full, sizeof full);
  if (!ok) {
    return false;  /* recognized == 0 by chance: the digest stays as it was */
  }
  if (ep_digest_copy_state(d->digest, scratch) != 0) {
    return false;
  }
  return true;
}

void ep_relay_crypto_originate(ep_relay_crypto_t *c, uint8_t body[EP_RELAY_BODY_LEN]) {
  dir_originate(&c->fwd, body);
}

void ep_relay_crypto_encrypt_forward(ep_relay_crypto_t *c, uint8_t body[EP_RELAY_BODY_LEN]) {
  ep_aes_ctr_crypt(c->fwd.aes, body, EP_RELAY_BODY_LEN);
}

void ep_relay_crypto_forward_digest(const ep_relay_crypto_t *c, uint8_t out[20]) {
  ep_digest_peek(c->fwd.digest, out, EP_SHA1_LEN);
}

void ep_relay_crypto_backward_digest(const ep_relay_crypto_t *c, uint8_t out[20]) {
  ep_digest_peek(c->bwd.digest, out, EP_SHA1_LEN);
}

bool ep_relay_crypto_decrypt_backward(ep_relay_crypto_t *c, uint8_t body[EP_RELAY_BODY_LEN]) {
  return dir_receive(&c->bwd, c->scratch, body);
}

bool ep_relay_crypto_relay_decrypt_forward(ep_relay_crypto_t *c, uint8_t body[EP_RELAY_BODY_LEN]) {
  return dir_receive(&c->fwd, c->scratch, body);
}

void ep_relay_crypto_relay_originate_backward(ep_relay_crypto_t *c,
                                              uint8_t body[EP_RELAY_BODY_LEN]) {
  dir_originate(&c->bwd, body);
}

void ep_relay_crypto_relay_encrypt_backward(ep_relay_crypto_t *c,
                                            uint8_t body[EP_RELAY_BODY_LEN]) {
  ep_aes_ctr_crypt(c->bwd.aes, body, EP_RELAY_BODY_LEN);
}
