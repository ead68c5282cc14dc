/* exitprobe tests — a scripted fake relay (see link_fake.h). */
#include "config.h"

#include "link_fake.h"

#include <check.h>
#include <openssl/evp.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>
#include <stdlib.h>
#include <string.h>

#include "lib/reader.h"
#include "proto/edcert.h"
#include "proto/linkhs.h"
#include "proto/ntor.h"
#include "proto/relaymsg.h"

static uint8_t *x509_der(EVP_PKEY *subject, EVP_PKEY *signer, const char *cn, const char *issuer,
                         time_t nb, time_t na, size_t *len) {
  X509 *x = X509_new();
  ck_assert_ptr_nonnull(x);
  X509_set_version(x, 2);
  ASN1_INTEGER_set(X509_get_serialNumber(x), 42);
  ASN1_TIME_set(X509_getm_notBefore(x), nb);
  ASN1_TIME_set(X509_getm_notAfter(x), na);
  X509_NAME *sn = X509_NAME_new();
  X509_NAME_add_entry_by_txt(sn, "CN", MBSTRING_ASC, (const unsigned char *)cn, -1, -1, 0);
  X509_set_subject_name(x, sn);
  X509_NAME *in = X509_NAME_new();
  X509_NAME_add_entry_by_txt(in, "CN", MBSTRING_ASC, (const unsigned char *)issuer, -1, -1, 0);
  X509_set_issuer_name(x, in);
  X509_set_pubkey(x, subject);
  ck_assert_int_gt(X509_sign(x, signer, EVP_sha256()), 0);
  int n = i2d_X509(x, NULL);
  ck_assert_int_gt(n, 0);
  uint8_t *der = malloc((size_t)n);
  uint8_t *p = der;
  i2d_X509(x, &p);
  X509_NAME_free(sn);
  X509_NAME_free(in);
  X509_free(x);
  *len = (size_t)n;
  return der;
}

size_t lf_edcert(uint8_t *out, uint8_t type, uint32_t exp_hours, uint8_t key_type,
                 const uint8_t key[32], bool ext, const uint8_t signer_pk[32],
                 const uint8_t signer_sk[64]) {
  ep_writer_t w;
  ep_writer_init(&w, out, 256);
  ep_wr_u8(&w, 1);
  ep_wr_u8(&w, type);
  ep_wr_u32(&w, exp_hours);
  ep_wr_u8(&w, key_type);
  ep_wr_bytes(&w, key, 32);
  ep_wr_u8(&w, ext ? 1 : 0);
  if (ext) {
    ep_wr_u16(&w, 32);
    ep_wr_u8(&w, EP_CERTEXT_SIGNED_WITH_KEY);
    ep_wr_u8(&w, 0);
    ep_wr_bytes(&w, signer_pk, 32);
  }
  size_t n = ep_wr_len(&w);
  uint8_t sig[64];
  ep_ed25519_sign(sig, out, n, signer_sk);
  ep_wr_bytes(&w, sig, 64);
  ck_assert(ep_wr_ok(&w));
  return ep_wr_len(&w);
}

lf_identity_t *lf_identity_new(time_t now) {
  lf_identity_t *id = calloc(1, sizeof *id);
  ck_assert_ptr_nonnull(id);
  EVP_PKEY *rsa = EVP_RSA_gen(1024);
  EVP_PKEY *tls = EVP_RSA_gen(1024);
  ck_assert_ptr_nonnull(rsa);
  ck_assert_ptr_nonnull(tls);
  id->rsa = rsa;
  id->tls_key = tls;
  /* tor backdates its certificates to a day boundary; so do we. */
  time_t nb = now - 86400 - now % 86400;
  id->id_cert = x509_der(rsa, rsa, "www.fake-id.net", "www.fake-id.net", nb, nb + 365 * 86400,
                         &id->id_cert_len);
  id->tls_cert = x509_der(tls, tls, "www.fake-tls.com", "www.fake-tls.com", nb, nb + 365 * 86400,
                          &id->tls_cert_len);
  id->link_cert = x509_der(tls, rsa, "www.fake-tls.com", "www.fake-id.net", nb, nb + 365 * 86400,
                           &id->link_cert_len);
  ep_err_t e = {0};
  ep_rsa_pub_t *pub = ep_rsa_pub_from_x509_der(id->id_cert, id->id_cert_len, &e);
  ck_assert_msg(pub != NULL, "%s", e.msg);
  ck_assert_int_eq(ep_rsa_pub_fingerprint(pub, id->rsa_id), 0);
  ep_rsa_pub_free(pub);

  uint8_t seed[32];
  ep_random(seed, sizeof seed);
  ep_ed25519_seed_keypair(id->ed_pk, id->ed_sk, seed);
  ep_random(seed, sizeof seed);
  ep_ed25519_seed_keypair(id->sign_pk, id->sign_sk, seed);
  uint32_t exp = (uint32_t)(now / 3600) + 24 * 30;
  id->cert4_len = lf_edcert(id->cert4, EP_CERTTYPE_ID_SIGNING, exp, EP_CERTKEY_ED25519,
                            id->sign_pk, true, id->ed_pk, id->ed_sk);
  uint8_t tls_digest[32];
  ep_sha256(tls_digest, id->tls_cert, id->tls_cert_len);
  id->cert5_len = lf_edcert(id->cert5, EP_CERTTYPE_SIGNING_LINK, exp, EP_CERTKEY_SHA256_X509,
                            tls_digest, false, NULL, id->sign_sk);

  /* RSA->Ed25519 cross-cert: key | expiration | siglen | RSA(raw PKCS#1 v1.5
   * over SHA-256(prefix | key | expiration)). */
  ep_writer_t w;
  ep_writer_init(&w, id->cert7, sizeof id->cert7);
  ep_wr_bytes(&w, id->ed_pk, 32);
  ep_wr_u32(&w, exp);
  uint8_t msg[128];
  size_t plen = strlen(EP_RSA_CROSSCERT_PREFIX);
  memcpy(msg, EP_RSA_CROSSCERT_PREFIX, plen);
  memcpy(msg + plen, id->cert7, 36);
  uint8_t digest[32];
  ep_sha256(digest, msg, plen + 36);
  EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new(rsa, NULL);
  ck_assert_ptr_nonnull(ctx);
  ck_assert_int_eq(EVP_PKEY_sign_init(ctx), 1);
  ck_assert_int_eq(EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_PKCS1_PADDING), 1);
  uint8_t sig[256];
  size_t siglen = sizeof sig;
  ck_assert_int_eq(EVP_PKEY_sign(ctx, sig, &siglen, digest, sizeof digest), 1);
  EVP_PKEY_CTX_free(ctx);
  ep_wr_u8(&w, (uint8_t)siglen);
  ep_wr_bytes(&w, sig, siglen);
  ck_assert(ep_wr_ok(&w));
  id->cert7_len = ep_wr_len(&w);

  ep_x25519_keygen(id->ntor_sk, id->ntor_pk);
  return id;
}

void lf_identity_free(lf_identity_t *id) {
  if (id == NULL) {
    return;
  }
  EVP_PKEY_free(id->rsa);
  EVP_PKEY_free(id->tls_key);
  free(id->id_cert);
  free(id->tls_cert);
  free(id->link_cert);
  free(id);
}

ep_target_t lf_target(const lf_identity_t *id, uint32_t ipv4, uint16_t port) {
  ep_target_t t;
  memset(&t, 0, sizeof t);
  t.ipv4 = ipv4;
  t.or_port = port;
  memcpy(t.rsa_id, id->rsa_id, 20);
  t.has_ed25519 = true;
  memcpy(t.ed25519_id, id->ed_pk, 32);
  memcpy(t.ntor_key, id->ntor_pk, 32);
  return t;
}

size_t lf_certs_payload(const lf_identity_t *id, unsigned flags, uint8_t *out, size_t cap) {
  static uint8_t c2[2048], c4[256], c5[256], c7[512];
  memcpy(c2, id->id_cert, id->id_cert_len);
  memcpy(c4, id->cert4, id->cert4_len);
  memcpy(c5, id->cert5, id->cert5_len);
  memcpy(c7, id->cert7, id->cert7_len);
  if (flags & LF_CERTS_FLIP_SIG4) {
    c4[id->cert4_len - 10] ^= 0x04;
  }
  if (flags & LF_CERTS_FLIP_SIG5) {
    c5[id->cert5_len - 1] ^= 0x80;
  }
  if (flags & LF_CERTS_FLIP_SIG7) {
    c7[id->cert7_len - 5] ^= 0x01;
  }
  if (flags & LF_CERTS_FLIP_X509) {
    c2[id->id_cert_len - 3] ^= 0x10;   /* inside the trailing signature */
  }
  ep_certs_t certs;
  memset(&certs, 0, sizeof certs);
  if (!(flags & LF_CERTS_NO_TYPE1)) {
    certs.e[certs.n++] = (ep_certs_entry_t){1, (uint16_t)id->link_cert_len, id->link_cert};
  }
  if (!(flags & LF_CERTS_OMIT_2)) {
    certs.e[certs.n++] = (ep_certs_entry_t){2, (uint16_t)id->id_cert_len, c2};
  }
  if (!(flags & LF_CERTS_OMIT_4)) {
    certs.e[certs.n++] = (ep_certs_entry_t){4, (uint16_t)id->cert4_len, c4};
  }
  if (flags & LF_CERTS_DUP_4) {
    certs.e[certs.n++] = (ep_certs_entry_t){4, (uint16_t)id->cert4_len, c4};
  }
  if (!(flags & LF_CERTS_OMIT_5)) {
    certs.e[certs.n++] = (ep_certs_entry_t){5, (uint16_t)id->cert5_len, c5};
  }
  if (!(flags & LF_CERTS_OMIT_7)) {
    certs.e[certs.n++] = (ep_certs_entry_t){7, (uint16_t)id->cert7_len, c7};
  }
  size_t len = 0;
  ep_err_t e = {0};
  ck_assert_int_eq(ep_certs_encode(out, cap, &certs, &len, &e), EP_OK);
  return len;
}

void lf_feed_cell(ep_channel_t *ch, int linkproto, uint32_t circ_id, uint8_t cmd,
                  const uint8_t *payload, size_t plen, time_t now) {
  static uint8_t buf[EP_CELL_VAR_HEADER_MAX + 65535];
  ep_err_t e = {0};
  ssize_t n = ep_cell_encode(buf, sizeof buf, linkproto, circ_id, cmd, payload, plen, &e);
  ck_assert_msg(n > 0, "encode: %s", e.msg);
  ck_assert_int_eq(ep_channel_feed(ch, buf, (size_t)n, now, &e), EP_OK);
}

bool lf_take_cell(ep_channel_t *ch, int linkproto, ep_cell_t *cell, uint8_t *storage) {
  size_t len;
  const uint8_t *p = ep_channel_out(ch, &len);
  if (len == 0) {
    return false;
  }
  size_t clen;
  ep_err_t e = {0};
  ck_assert_int_eq(ep_cell_frame(p, len, linkproto, &clen, &e), EP_OK);
  memcpy(storage, p, clen);
  ep_channel_out_consume(ch, clen);
  ck_assert_int_eq(ep_cell_parse(storage, clen, linkproto, cell, &e), EP_OK);
  return true;
}

int lf_open_channel(ep_channel_t *ch, const lf_identity_t *id, int maxproto, time_t now) {
  static uint8_t storage[EP_CELL_VAR_HEADER_MAX + 65535];
  ep_err_t e = {0};
  ck_assert_int_eq(ep_channel_start(ch, id->tls_cert, id->tls_cert_len, now, &e), EP_OK);
  ep_cell_t cell;
  ck_assert(lf_take_cell(ch, 0, &cell, storage));
  ck_assert_uint_eq(cell.command, EP_CELL_VERSIONS);
  uint16_t vs[3];
  size_t nv = 0;
  for (uint16_t v = 3; v <= 5 && v <= maxproto; v++) {
    vs[nv++] = v;
  }
  uint8_t payload[2048];
  size_t plen;
  ck_assert_int_eq(ep_versions_encode(payload, sizeof payload, vs, nv, &plen, &e), EP_OK);
  lf_feed_cell(ch, 0, 0, EP_CELL_VERSIONS, payload, plen, now);
  int proto = maxproto;
  plen = lf_certs_payload(id, 0, payload, sizeof payload);
  lf_feed_cell(ch, proto, 0, EP_CELL_CERTS, payload, plen, now);
  ep_auth_challenge_t ac;
  memset(&ac, 0, sizeof ac);
  ep_random(ac.challenge, sizeof ac.challenge);
  ac.n_methods = 2;
  ac.methods[0] = 1;
  ac.methods[1] = 3;
  ck_assert_int_eq(ep_auth_challenge_encode(payload, sizeof payload, &ac, &plen, &e), EP_OK);
  lf_feed_cell(ch, proto, 0, EP_CELL_AUTH_CHALLENGE, payload, plen, now);
  ep_netinfo_t ni;
  memset(&ni, 0, sizeof ni);
  ni.timestamp = (uint32_t)now + 5;
  ni.other.family = EP_IPADDR_V4;
  ep_put_u32(ni.other.bytes, 0x0a000002);
  ni.n_my_kept = 1;
  ni.my[0].family = EP_IPADDR_V4;
  ep_put_u32(ni.my[0].bytes, 0x7f000001);
  ck_assert_int_eq(ep_netinfo_encode(payload, &ni, &e), EP_OK);
  lf_feed_cell(ch, proto, 0, EP_CELL_NETINFO, payload, EP_CELL_PAYLOAD_LEN, now);
  ep_event_t ev;
  ck_assert(ep_channel_next_event(ch, &ev));
  ck_assert_msg(ev.type == EP_EV_CHAN_OPEN, "event %s: %s", ep_event_type_name(ev.type), ev.msg);
  ck_assert(!ep_channel_next_event(ch, &ev));
  ck_assert(lf_take_cell(ch, proto, &cell, storage));
  ck_assert_uint_eq(cell.command, EP_CELL_NETINFO);
  ck_assert(!lf_take_cell(ch, proto, &cell, storage));
  return proto;
}

/* ---- Relay side of a circuit ---- */

void lf_circ_init(lf_circ_t *c, uint32_t circ_id) {
  memset(c, 0, sizeof *c);
  c->circ_id = circ_id;
}

void lf_circ_free(lf_circ_t *c) {
  for (unsigned i = 0; i < c->n_hops; i++) {
    ep_relay_crypto_free(c->hop[i]);
    ep_digest_free(c->bwd[i]);
    ep_digest_free(c->fwd[i]);
  }
  memset(c, 0, sizeof *c);
}

void lf_circ_answer_ntor(lf_circ_t *c, const lf_identity_t *id, const uint8_t onionskin[84],
                         uint8_t reply[64], bool corrupt) {
  ck_assert_uint_lt(c->n_hops, LF_MAX_HOPS);
  uint8_t keys[EP_RELAY_KEYS_LEN];
  ep_err_t e = {0};
  ck_assert_int_eq(ep_ntor_server_handshake(id->rsa_id, id->ntor_sk, id->ntor_pk, onionskin, NULL,
                                            reply, keys, sizeof keys, &e),
                   EP_OK);
  if (corrupt) {
    reply[40] ^= 0x01;   /* inside AUTH */
  }
  lf_circ_add_hop(c, keys);
}

void lf_circ_add_hop(lf_circ_t *c, const uint8_t keys[EP_RELAY_KEYS_LEN]) {
  ck_assert_uint_lt(c->n_hops, LF_MAX_HOPS);
  unsigned i = c->n_hops++;
  c->hop[i] = ep_relay_crypto_new(keys);
  c->fwd[i] = ep_digest_new(EP_DIGEST_SHA1);
  c->bwd[i] = ep_digest_new(EP_DIGEST_SHA1);
  ep_digest_update(c->fwd[i], keys, 20);
  ep_digest_update(c->bwd[i], keys + 20, 20);
}

int lf_circ_recv(lf_circ_t *c, const uint8_t payload[EP_CELL_PAYLOAD_LEN],
                 uint8_t body[EP_CELL_PAYLOAD_LEN]) {
  memcpy(body, payload, EP_CELL_PAYLOAD_LEN);
  for (unsigned i = 0; i < c->n_hops; i++) {
    if (ep_relay_crypto_relay_decrypt_forward(c->hop[i], body)) {
      uint8_t z[EP_CELL_PAYLOAD_LEN];
      memcpy(z, body, sizeof z);
      memset(z + EP_RELAY_DIGEST_OFFSET, 0, EP_RELAY_DIGEST_LEN);
      ep_digest_update(c->fwd[i], z, sizeof z);
      return (int)i;
    }
  }
  return -1;
}

void lf_circ_send(lf_circ_t *c, unsigned hi, uint8_t relay_cmd, uint16_t stream_id,
                  const uint8_t *data, size_t len, uint8_t payload[EP_CELL_PAYLOAD_LEN],
                  uint8_t *digest_out) {
  ck_assert_uint_lt(hi, c->n_hops);
  ep_err_t e = {0};
  ck_assert_int_eq(ep_relay_body_build(payload, relay_cmd, stream_id, data, len, &e), EP_OK);
  ep_digest_update(c->bwd[hi], payload, EP_CELL_PAYLOAD_LEN);
  if (digest_out != NULL) {
    ep_digest_peek(c->bwd[hi], digest_out, 20);
  }
  ep_relay_crypto_relay_originate_backward(c->hop[hi], payload);
  for (unsigned i = hi; i-- > 0;) {
    ep_relay_crypto_relay_encrypt_backward(c->hop[i], payload);
  }
}
