/* exitprobe — relays named on the command line. */
#include "config.h"

#include "probe/net/relayspec.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/encode.h"

bool ep_relayspec_is_explicit(const char *s) { return strchr(s, '~') != NULL; }

int ep_fingerprint_parse(const char *s, uint8_t out[20], ep_err_t *err) {
  if (s[0] == '$') {
    s++;
  }
  if (strlen(s) != 40 || ep_hex_decode(out, 20, s, 40) != 20) {
    return ep_err_set(err, EP_ERR_MALFORMED, "'%.60s' is not a relay fingerprint (40 hex digits)", s);
  }
  return EP_OK;
}

void ep_fingerprint_format(char out[41], const uint8_t id[20]) {
  ep_hex_encode(out, 41, id, 20, true);
}

static int key32(const char *b64, size_t len, uint8_t out[32], const char *what, ep_err_t *err) {
  uint8_t tmp[40];
  if (len > 48 || ep_base64_decode(tmp, sizeof tmp, b64, len) != 32) {
    return ep_err_set(err, EP_ERR_MALFORMED, "relay spec: %s is not 32 bytes of base64", what);
  }
  memcpy(out, tmp, 32);
  return EP_OK;
}

int ep_relayspec_parse(const char *s, ep_target_t *out, ep_err_t *err) {
  memset(out, 0, sizeof *out);
  char buf[256];
  if (strlen(s) >= sizeof buf) {
    return ep_err_set(err, EP_ERR_MALFORMED, "relay spec too long");
  }
  snprintf(buf, sizeof buf, "%s", s);
  char *fields[5] = {0};
  size_t n = 0;
  for (char *p = buf; p != NULL && n < 5;) {
    fields[n++] = p;
    p = strchr(p, '~');
    if (p != NULL) {
      *p++ = '\0';
    }
  }
  if (n < 2 || n > 4) {
    return ep_err_set(err, EP_ERR_MALFORMED,
                      "relay spec '%.80s': want IP:ORPORT~FINGERPRINT[~NTOR_KEY[~ED25519_ID]]", s);
  }
  char *colon = strrchr(fields[0], ':');
  struct in_addr ia;
  char *end = NULL;
  long port = colon != NULL ? strtol(colon + 1, &end, 10) : -1;
  if (colon == NULL || end == NULL || *end != '\0' || port <= 0 || port > 65535) {
    return ep_err_set(err, EP_ERR_MALFORMED, "relay spec: '%.60s' is not IPv4:ORPORT", fields[0]);
  }
  *colon = '\0';
  if (inet_pton(AF_INET, fields[0], &ia) != 1) {
    return ep_err_set(err, EP_ERR_MALFORMED, "relay spec: '%.60s' is not an IPv4 address", fields[0]);
  }
  out->ipv4 = ntohl(ia.s_addr);
  out->or_port = (uint16_t)port;
  int rc = ep_fingerprint_parse(fields[1], out->rsa_id, err);
  if (rc == EP_OK && n >= 3) {
    rc = key32(fields[2], strlen(fields[2]), out->ntor_key, "the ntor key", err);
  }
  if (rc == EP_OK && n == 4) {
    rc = key32(fields[3], strlen(fields[3]), out->ed25519_id, "the Ed25519 id", err);
    out->has_ed25519 = (rc == EP_OK);
  }
  return rc;
}
