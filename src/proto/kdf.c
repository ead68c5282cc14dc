/* exitprobe — HKDF-SHA256 and KDF-TOR (tor-spec §5.2). */
#include "config.h"

#include "proto/kdf.h"

#include <stdlib.h>
#include <string.h>

#include "lib/crypto.h"
#include "lib/err.h"

int ep_hkdf_sha256_expand(uint8_t *out, size_t outlen, const uint8_t prk[32],
                          const uint8_t *info, size_t infolen) {
  if (outlen > 0) {
    memset(out, 0, outlen);
  }
  if (outlen > EP_HKDF_SHA256_MAX_OUT) {
    return EP_ERR_LIMIT;
  }
  if (infolen > SIZE_MAX - EP_SHA256_LEN - 1) {
    return EP_ERR_LIMIT;
  }
  /* One message buffer for T(i-1) | info | counter. */
  size_t msgcap = EP_SHA256_LEN + infolen + 1;
  uint8_t *msg = malloc(msgcap);
  if (msg == NULL) {
    return EP_ERR_NOMEM;
  }
  uint8_t block[EP_SHA256_LEN] = {0};
  size_t done = 0;
  size_t prevlen = 0;   /* T(0) is empty */
  uint8_t counter = 1;
  while (done < outlen) {
    size_t mlen = 0;
    memcpy(msg, block, prevlen);
    mlen += prevlen;
    if (infolen > 0) {
      memcpy(msg + mlen, info, infolen);
      mlen += infolen;
    }
    msg[mlen++] = counter;
    ep_hmac_sha256(block, prk, EP_SHA256_LEN, msg, mlen);
    size_t take = outlen - done < EP_SHA256_LEN ? outlen - done : EP_SHA256_LEN;
    memcpy(out + done, block, take);
    done += take;
    prevlen = EP_SHA256_LEN;
    counter++;
  }
  ep_wipe(block, sizeof block);
  ep_wipe(msg, msgcap);
  free(msg);
  return EP_OK;
}

int ep_hkdf_sha256(uint8_t *out, size_t outlen, const uint8_t *salt, size_t saltlen,
                   const uint8_t *ikm, size_t ikmlen, const uint8_t *info, size_t infolen) {
  static const uint8_t zero_salt[EP_SHA256_LEN] = {0};
  if (outlen > 0) {
    memset(out, 0, outlen);
  }
  if (outlen > EP_HKDF_SHA256_MAX_OUT) {
    return EP_ERR_LIMIT;
  }
  if (salt == NULL || saltlen == 0) {
    salt = zero_salt;
    saltlen = sizeof zero_salt;
  }
  static const uint8_t empty[1] = {0};
  if (ikm == NULL) {
    ikm = empty;
    ikmlen = 0;
  }
  uint8_t prk[EP_SHA256_LEN];
  ep_hmac_sha256(prk, salt, saltlen, ikm, ikmlen);
  int rc = ep_hkdf_sha256_expand(out, outlen, prk, info, infolen);
  ep_wipe(prk, sizeof prk);
  return rc;
}

int ep_kdf_tor(uint8_t *out, size_t outlen, const uint8_t *k0, size_t k0len) {
  if (outlen > 0) {
    memset(out, 0, outlen);
  }
  if (outlen > EP_KDF_TOR_MAX_OUT) {
    return EP_ERR_LIMIT;
  }
  if (k0len > SIZE_MAX - 1) {
    return EP_ERR_LIMIT;
  }
  size_t msgcap = k0len + 1;
  uint8_t *msg = malloc(msgcap);
  if (msg == NULL) {
    return EP_ERR_NOMEM;
  }
  if (k0len > 0) {
    memcpy(msg, k0, k0len);
  }
  uint8_t block[EP_SHA1_LEN];
  size_t done = 0;
  unsigned counter = 0;
  while (done < outlen) {
    msg[k0len] = (uint8_t)counter;
    ep_sha1(block, msg, msgcap);
    size_t take = outlen - done < EP_SHA1_LEN ? outlen - done : EP_SHA1_LEN;
    memcpy(out + done, block, take);
    done += take;
    counter++;
  }
  ep_wipe(block, sizeof block);
  ep_wipe(msg, msgcap);
  free(msg);
  return EP_OK;
}
