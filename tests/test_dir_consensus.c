/* exitprobe — unit tests of src/dir consensus parsing, authority certificates
 * and signature/time verification, on real documents. */
#include "config.h"

#include <check.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dir/authcert.h"
#include "dir/authority.h"
#include "dir/consensus.h"
#include "dir/verify.h"
#include "lib/encode.h"
#include "lib/timeutil.h"
#include "testutil.h"

static time_t tor_time(const char *s) {
  time_t t;
  ck_assert_int_eq(ep_time_parse_tor(s, strlen(s), &t), 0);
  return t;
}

/* Every other file goes through the owning variant (no copy). */
static ep_consensus_t *parse_file(const char *rel) {
  static int turn;
  size_t n;
  uint8_t *t = tu_read_data(rel, &n);
  ep_err_t err = {0};
  ep_consensus_t *c;
  if (turn++ % 2 == 0) {
    c = ep_consensus_parse((const char *)t, n, &err);
    free(t);
  } else {
    c = ep_consensus_parse_owned((char *)t, n, &err);
  }
  ck_assert_msg(c != NULL, "%s: %s", rel, err.msg);
  return c;
}

static ep_authcerts_t *certs_file(const char *rel) {
  size_t n;
  uint8_t *t = tu_read_data(rel, &n);
  ep_err_t err = {0};
  ep_authcerts_t *l = ep_authcerts_parse((const char *)t, n, &err);
  ck_assert_msg(l != NULL, "%s: %s", rel, err.msg);
  free(t);
  return l;
}

static ep_dir_authset_t *auths_file(const char *rel) {
  ep_err_t err = {0};
  ep_dir_authset_t *a = ep_dir_authset_load(tu_data_path(rel), &err);
  ck_assert_msg(a != NULL, "%s: %s", rel, err.msg);
  return a;
}

static void b64id(const char *b64, uint8_t out[20]) {
  ck_assert_int_eq(ep_base64_decode(out, 20, b64, strlen(b64)), 20);
}

START_TEST(ns_2022_parses) {
  ep_consensus_t *c = parse_file("dir/consensus-ns-2022-11-19");
  ck_assert_int_eq(ep_consensus_flavor(c), EP_FLAVOR_NS);
  ck_assert_str_eq(ep_consensus_flavor_name(c), "ns");
  ck_assert_uint_eq(ep_consensus_n_routers(c), 6088);
  ck_assert_int_eq(ep_consensus_method(c), 32);
  ck_assert_int_eq((long long)ep_consensus_valid_after(c), (long long)tor_time("2022-11-19 10:00:00"));
  ck_assert_int_eq((long long)ep_consensus_fresh_until(c), (long long)tor_time("2022-11-19 11:00:00"));
  ck_assert_int_eq((long long)ep_consensus_valid_until(c), (long long)tor_time("2022-11-19 13:00:00"));
  uint32_t vd, dd;
  ep_consensus_voting_delay(c, &vd, &dd);
  ck_assert_uint_eq(vd, 300);
  ck_assert_uint_eq(dd, 300);
  ck_assert_uint_eq(ep_consensus_n_known_flags(c), 14);
  ck_assert_uint_eq(ep_consensus_flag_mask(c, "Exit"), EP_RS_EXIT);
  ck_assert_uint_eq(ep_consensus_flag_mask(c, "Nonsense"), 0);
  ck_assert_int_eq(ep_consensus_param(c, "circ_max_cell_queue_size", 1000, 0, 100000), 2000);
  ck_assert_int_eq(ep_consensus_param(c, "cc_alg", 0, 0, 1), 1); /* clamped */
  ck_assert_int_eq(ep_consensus_param(c, "absent", 7, 0, 10), 7);
  int32_t w;
  ck_assert(ep_consensus_bw_weight(c, "Wgg", &w));
  ck_assert_int_eq(w, 9611);
  ck_assert(!ep_consensus_bw_weight(c, "Wzz", &w));
  size_t len;
  const char *cv = ep_consensus_text(c, EP_CONS_REQUIRED_CLIENT_PROTOCOLS, &len);
  ck_assert_ptr_nonnull(cv);
  ck_assert(ep_dir_proto_supports(cv, len, "Link", 4));
  ck_assert_uint_eq(ep_consensus_n_dir_sources(c), 9);
  const ep_dir_source_t *d = ep_consensus_dir_source(c, 5);
  ck_assert_str_eq(d->nickname, "moria1");
  ck_assert_uint_eq(d->dir_port, 9131);
  ck_assert_uint_eq(d->or_port, 9101);
  ck_assert_uint_eq(d->contact_len, strlen("1024D/EB5A896A28988BF5 arma mit edu"));
  ck_assert_uint_eq(ep_consensus_n_signatures(c), 8);
  for (size_t i = 0; i < 8; i++) {
    ck_assert_int_eq(ep_consensus_signature(c, i)->alg, EP_SIG_SHA1);
  }

  /* entries: counts independently made with a script over the file */
  size_t exits = 0, badexit = 0, guards = 0, v6 = 0, p25 = 0, p443 = 0;
  for (size_t i = 0; i < ep_consensus_n_routers(c); i++) {
    const ep_routerstatus_t *rs = ep_consensus_router(c, i);
    exits += (rs->flags & EP_RS_EXIT) != 0;
    badexit += (rs->flags & EP_RS_BADEXIT) != 0;
    guards += (rs->flags & EP_RS_GUARD) != 0;
    v6 += rs->has_ipv6;
    p25 += ep_policy_summary_allows(ep_routerstatus_policy(rs), 25);
    p443 += ep_policy_summary_eval(ep_routerstatus_policy(rs), 443).verdict == EP_POLICY_ACCEPT;
  }
  ck_assert_uint_eq(exits, 1438);
  ck_assert_uint_eq(badexit, 11);
  ck_assert_uint_eq(guards, 3020);
  ck_assert_uint_eq(v6, 2686);
  ck_assert_uint_eq(p25, 50);
  ck_assert_uint_eq(p443, 1442);

  const ep_routerstatus_t *first = ep_consensus_router(c, 0);
  ck_assert_str_eq(first->nickname, "seele");
  ck_assert_uint_eq(first->ipv4, 0x6835dd9fu);
  ck_assert_uint_eq(first->or_port, 9001);
  ck_assert_uint_eq(first->bandwidth, 270);
  ck_assert_uint_eq(first->version_len, strlen("Tor 0.4.7.10"));
  ck_assert_int_eq(memcmp(first->version, "Tor 0.4.7.10", first->version_len), 0);
  ck_assert(ep_dir_proto_supports(first->proto, first->proto_len, "Relay", 4));
  ck_assert_uint_eq(first->flags, EP_RS_FAST | EP_RS_HSDIR | EP_RS_RUNNING | EP_RS_STABLE |
                                      EP_RS_V2DIR | EP_RS_VALID);
  uint8_t id[20];
  b64id("lpXfw1/+uGEym58asExGOXAgzjE", id);
  long i = ep_consensus_find_identity(c, id);
  ck_assert_int_eq(i, 3589);
  ck_assert_str_eq(ep_consensus_router(c, (size_t)i)->nickname, "moria1");
  ck_assert_uint_eq(ep_consensus_router(c, (size_t)i)->dir_port, 9131);
  id[19] ^= 1;
  ck_assert_int_eq(ep_consensus_find_identity(c, id), -1);
  /* the same summary text is shared */
  ck_assert_ptr_eq(ep_consensus_router(c, 0)->policy, ep_consensus_router(c, 6087)->policy);
  ep_consensus_free(c);
}
END_TEST

START_TEST(md_2022_parses) {
  ep_consensus_t *c = parse_file("dir/consensus-md-2022-11-19");
  ck_assert_int_eq(ep_consensus_flavor(c), EP_FLAVOR_MICRODESC);
  ck_assert_str_eq(ep_consensus_doc_name(c), "microdesc consensus");
  ck_assert_uint_eq(ep_consensus_n_routers(c), 6088);
  ck_assert_uint_eq(ep_consensus_n_signatures(c), 8);
  ck_assert_int_eq(ep_consensus_signature(c, 0)->alg, EP_SIG_SHA256);
  const ep_routerstatus_t *rs = ep_consensus_router(c, 0);
  ck_assert_ptr_null(rs->policy); /* no "p" in this flavour */
  uint8_t md[32];
  ck_assert_int_eq(ep_base64_decode(md, 32, "38hr2IZV5m/kTlVcZmroAwmemDqYVeN+5HcTprpIa2A", 43), 32);
  ck_assert_mem_eq(rs->digest, md, 32);
  ck_assert_int_eq(ep_consensus_find_md(c, md), 0);
  md[0] ^= 1;
  ck_assert_int_eq(ep_consensus_find_md(c, md), -1);
  ep_consensus_free(c);
}
END_TEST

START_TEST(certs_2022_verify) {
  ep_authcerts_t *l = certs_file("dir/cached-certs-2022-11-19");
  ck_assert_uint_eq(ep_authcerts_count(l), 9);
  time_t now = tor_time("2022-11-19 11:30:00");
  for (size_t i = 0; i < ep_authcerts_count(l); i++) {
    ep_err_t err = {0};
    const ep_authcert_t *c = ep_authcerts_get(l, i);
    ck_assert_msg(ep_authcert_verify(c, now, 0, &err) == EP_OK, "%s", err.msg);
    ck_assert_mem_eq(c->fingerprint, c->identity_digest, 20);
    ck_assert_ptr_eq(ep_authcerts_find(l, c->fingerprint, c->signing_digest), c);
  }
  const ep_authcert_t *c = ep_authcerts_get(l, 0);
  ep_err_t err = {0};
  ck_assert_int_eq(ep_authcert_verify(c, tor_time("2030-01-01 00:00:00"), 0, &err), EP_ERR_EXPIRED);
  ck_assert_ptr_nonnull(strstr(err.msg, "expired at 2023-09-16 19:14:12"));
  ck_assert_int_eq(ep_authcert_verify(c, tor_time("2021-01-01 00:00:00"), 0, &err), EP_ERR_EXPIRED);
  ck_assert_ptr_nonnull(strstr(err.msg, "published in the future"));
  /* a day of skew tolerance */
  ck_assert_int_eq(ep_authcert_verify(c, tor_time("2023-09-17 10:00:00"), 86400, &err), EP_OK);
  ep_authcerts_free(l);
}
END_TEST

START_TEST(certs_tampered_fail) {
  size_t n;
  char *t = (char *)tu_read_data("dir/cached-certs-2022-11-19", &n);
  time_t now = tor_time("2022-11-19 11:30:00");
  /* 1. a changed published date breaks the certification signature */
  char *p = strstr(t, "dir-key-published 2022-09-16 19:14:12");
  ck_assert_ptr_nonnull(p);
  p[strlen("dir-key-published 2022-09-1")] = '5';
  ep_err_t err = {0};
  ep_authcerts_t *l = ep_authcerts_parse(t, n, &err);
  ck_assert_ptr_nonnull(l);
  ck_assert_int_eq(ep_authcert_verify(ep_authcerts_get(l, 0), now, 0, &err), EP_ERR_VERIFY);
  ck_assert_str_eq(err.msg, "authority certificate line 1 (23D15D965BC35114467363C165C4F724B64B4F66): "
                            "dir-key-certification does not verify");
  ep_authcerts_free(l);
  p[strlen("dir-key-published 2022-09-1")] = '6';
  /* 2. a wrong fingerprint line */
  p = strstr(t, "fingerprint 23D15D");
  p[12] = '3';
  l = ep_authcerts_parse(t, n, &err);
  ck_assert_int_eq(ep_authcert_verify(ep_authcerts_get(l, 0), now, 0, &err), EP_ERR_VERIFY);
  ck_assert_ptr_nonnull(strstr(err.msg, "is not the identity key's digest"));
  ep_authcerts_free(l);
  p[12] = '2';
  /* 3. a flipped bit in the crosscert */
  p = strstr(t, "-----BEGIN ID SIGNATURE-----\n");
  p += strlen("-----BEGIN ID SIGNATURE-----\n") + 10;
  *p = *p == 'A' ? 'B' : 'A';
  l = ep_authcerts_parse(t, n, &err);
  ck_assert_int_eq(ep_authcert_verify(ep_authcerts_get(l, 0), now, 0, &err), EP_ERR_VERIFY);
  ck_assert_ptr_nonnull(strstr(err.msg, "dir-key-crosscert does not verify"));
  ep_authcerts_free(l);
  free(t);
  /* 4. malformed certificates */
  const char *bad[] = {
    "dir-key-certificate-version 2\n",
    "fingerprint 00\n",
    "dir-key-certificate-version 3\nfingerprint 23D1\n",
    "dir-key-certificate-version 3\ndir-key-certification\n-----BEGIN SIGNATURE-----\nAAAA\n-----END SIGNATURE-----\n",
    "dir-key-certificate-version 3\ndir-key-certificate-version 3\n",
    "",
  };
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    ck_assert_msg(ep_authcerts_parse(bad[i], strlen(bad[i]), &err) == NULL, "accepted #%zu", i);
    ck_assert_msg(strncmp(err.msg, "authority certificate", 21) == 0, "%s", err.msg);
  }
}
END_TEST

START_TEST(other_certs_parse) {
  ep_authcerts_t *l = certs_file("dir/authcert-all-2026");
  ck_assert_uint_eq(ep_authcerts_count(l), 17);
  size_t ok = 0;
  for (size_t i = 0; i < ep_authcerts_count(l); i++) {
    ok += ep_authcert_verify_signatures(ep_authcerts_get(l, i), NULL) == EP_OK;
  }
  ck_assert_uint_eq(ok, 17);
  ep_authcerts_free(l);
  l = certs_file("dir/testnet-keys-all");
  ck_assert_uint_eq(ep_authcerts_count(l), 3);
  ck_assert(ep_authcerts_get(l, 0)->has_dir_address);
  ck_assert_uint_eq(ep_authcerts_get(l, 0)->dir_port, 7002);
  for (size_t i = 0; i < 3; i++) {
    ck_assert_int_eq(ep_authcert_verify(ep_authcerts_get(l, i), tor_time("2026-11-25 04:33:25"), 0, NULL),
                     EP_OK);
  }
  ep_authcerts_free(l);
}
END_TEST

START_TEST(signatures_2022_verify) {
  ep_authcerts_t *certs = certs_file("dir/cached-certs-2022-11-19");
  ep_dir_authset_t *auths = auths_file("dir/authorities-2022-11-19.torrc");
  ck_assert_uint_eq(ep_dir_authset_n_v3(auths), 9);
  time_t now = tor_time("2022-11-19 11:30:00");
  const char *files[] = {"dir/consensus-ns-2022-11-19", "dir/consensus-md-2022-11-19"};
  for (int k = 0; k < 2; k++) {
    ep_consensus_t *c = parse_file(files[k]);
    ep_sigreport_t rep;
    ep_err_t err = {0};
    ck_assert_msg(ep_consensus_verify_signatures(c, auths, certs, now, 0, &rep, &err) == EP_OK, "%s",
                  err.msg);
    ck_assert_uint_eq(rep.n_known, 9);
    ck_assert_uint_eq(rep.n_needed, 5);
    ck_assert_uint_eq(rep.n_sigs, 8);
    ck_assert_uint_eq(rep.n_good, 8);
    for (size_t i = 0; i < 8; i++) {
      ck_assert_int_eq(rep.status[i], EP_SIGST_GOOD);
    }
    ck_assert_int_eq(ep_consensus_check_time(c, now, 0, &err), EP_OK);
    ck_assert_int_eq(ep_consensus_verify(c, auths, certs, now, 0, &err), EP_OK);

    /* expired: a day after valid-until; a day of skew lets it pass */
    time_t late = tor_time("2022-11-20 13:00:01");
    ck_assert_int_eq(ep_consensus_check_time(c, late, 0, &err), EP_ERR_EXPIRED);
    ck_assert_msg(strstr(err.msg, "expired at 2022-11-19 13:00:00 (now 2022-11-20 13:00:01)") != NULL,
                  "%s", err.msg);
    ck_assert_int_eq(ep_consensus_verify(c, auths, certs, late, 0, &err), EP_ERR_EXPIRED);
    ck_assert_int_eq(ep_consensus_check_time(c, late, 86401, &err), EP_OK);
    ck_assert_int_eq(ep_consensus_check_time(c, tor_time("2022-11-19 09:00:00"), 0, &err),
                     EP_ERR_EXPIRED);
    ck_assert_ptr_nonnull(strstr(err.msg, "not valid before 2022-11-19 10:00:00"));

    /* the public network's authorities today: tor26, moria1 and Faravahar
     * have new v3idents: 5 of the 9 good, just enough */
    ck_assert_int_eq(ep_consensus_verify_signatures(c, ep_dir_authset_builtin(), certs, now, 0, &rep,
                                                    &err), EP_OK);
    ck_assert_uint_eq(rep.n_good, 5); /* dannenberg did not sign */
    ck_assert_int_eq(rep.status[0], EP_SIGST_UNKNOWN_AUTHORITY); /* old tor26 */
    ep_consensus_free(c);
  }
  ep_dir_authset_free(auths);
  ep_authcerts_free(certs);
}
END_TEST

/* Keep only the first `keep` certificates of the 2022 file. */
static ep_authcerts_t *some_certs(size_t keep) {
  size_t n;
  char *t = (char *)tu_read_data("dir/cached-certs-2022-11-19", &n);
  char *p = t;
  for (size_t i = 0; i < keep; i++) {
    p = strstr(p + 1, "dir-key-certificate-version");
    if (p == NULL) {
      break;
    }
  }
  size_t len = p ? (size_t)(p - t) : n;
  ep_err_t err = {0};
  ep_authcerts_t *l = ep_authcerts_parse(t, len, &err);
  ck_assert_msg(l != NULL, "%s", err.msg);
  free(t);
  return l;
}

/* Text of a data file with `ann` inserted before every occurrence of
 * `before` (NULL: once, at the start). */
static char *annotated(const char *rel, const char *ann, const char *before, size_t *outlen) {
  size_t n;
  char *t = (char *)tu_read_data(rel, &n);
  size_t cap = n * 2 + 4096, o = 0;
  char *out = malloc(cap);
  ck_assert_ptr_nonnull(out);
  size_t al = strlen(ann), bl = before ? strlen(before) : 0;
  for (size_t i = 0; i < n; i++) {
    bool at = before ? (i == 0 || t[i - 1] == '\n') && n - i >= bl && memcmp(t + i, before, bl) == 0
                     : i == 0;
    if (at) {
      ck_assert_uint_lt(o + al, cap);
      memcpy(out + o, ann, al);
      o += al;
    }
    ck_assert_uint_lt(o, cap);
    out[o++] = t[i];
  }
  free(t);
  *outlen = o;
  return out;
}

/* CollecTor files start with "@type ..." (one per document): accepted for
 * consensuses (the signatures still verify: the line is not signed) and
 * authority certificates, as microdescriptors and server descriptors already
 * take annotations. */
START_TEST(collector_type_annotations) {
  size_t cn, kn;
  char *certs_text = annotated("dir/cached-certs-2022-11-19", "@type dir-key-certificate-3 1.0\n",
                               "dir-key-certificate-version", &kn);
  ep_err_t err = {0};
  ep_authcerts_t *certs = ep_authcerts_parse(certs_text, kn, &err);
  ck_assert_msg(certs != NULL, "%s", err.msg);
  ck_assert_uint_eq(ep_authcerts_count(certs), 9);
  ep_dir_authset_t *auths = auths_file("dir/authorities-2022-11-19.torrc");
  time_t now = tor_time("2022-11-19 11:30:00");
  char *cons = annotated("dir/consensus-md-2022-11-19",
                         "@type network-status-microdesc-consensus-3 1.0\n", NULL, &cn);
  ep_consensus_t *c = ep_consensus_parse(cons, cn, &err);
  ck_assert_msg(c != NULL, "%s", err.msg);
  ck_assert_int_eq(ep_consensus_verify(c, auths, certs, now, 0, &err), EP_OK);
  ep_consensus_free(c);
  /* only a leading @type line: anything else stays an error */
  memcpy(cons, "@tipe", 5);
  ck_assert_ptr_null(ep_consensus_parse(cons, cn, &err));
  free(cons);
  /* an annotation inside a certificate is not one of CollecTor's */
  char *bad = annotated("dir/cached-certs-2022-11-19", "@type x 1.0\n", "dir-key-published", &kn);
  ck_assert_ptr_null(ep_authcerts_parse(bad, kn, &err));
  ck_assert_ptr_nonnull(strstr(err.msg, "annotation inside a certificate"));
  free(bad);
  ep_authcerts_free(certs);
  ep_dir_authset_free(auths);
  free(certs_text);
}
END_TEST

START_TEST(signatures_fail_clearly) {
  ep_dir_authset_t *auths = auths_file("dir/authorities-2022-11-19.torrc");
  time_t now = tor_time("2022-11-19 11:30:00");
  ep_err_t err = {0};
  ep_sigreport_t rep;

  /* too few good signatures: certificates for only 4 authorities */
  ep_authcerts_t *four = some_certs(4);
  ck_assert_uint_eq(ep_authcerts_count(four), 4);
  ep_consensus_t *c = parse_file("dir/consensus-ns-2022-11-19");
  ck_assert_int_eq(ep_consensus_verify_signatures(c, auths, four, now, 0, &rep, &err), EP_ERR_VERIFY);
  ck_assert_uint_eq(rep.n_good, 4);
  ck_assert_msg(strstr(err.msg, "consensus: 4 good signatures from 9 trusted authorities, need 5; line ") ==
                    err.msg, "%s", err.msg);
  ck_assert_ptr_nonnull(strstr(err.msg, "no certificate for its signing key"));
  ep_authcerts_free(four);

  /* unknown authorities: a list that trusts none of them */
  ep_dir_authset_t *testnet = auths_file("dir/testnet-torrc");
  ep_authcerts_t *certs = certs_file("dir/cached-certs-2022-11-19");
  ck_assert_int_eq(ep_consensus_verify_signatures(c, testnet, certs, now, 0, &rep, &err), EP_ERR_VERIFY);
  ck_assert_uint_eq(rep.n_good, 0);
  ck_assert_int_eq(rep.status[0], EP_SIGST_UNKNOWN_AUTHORITY);
  ck_assert_msg(strstr(err.msg, "tor26 (14C131DF...): not a trusted authority") != NULL, "%s", err.msg);
  /* expired certificates */
  ck_assert_int_eq(ep_consensus_verify_signatures(c, auths, certs, tor_time("2025-01-01 00:00:00"), 0,
                                                  &rep, &err), EP_ERR_VERIFY);
  ck_assert_int_eq(rep.status[0], EP_SIGST_EXPIRED_CERT);
  ep_consensus_free(c);

  /* a bad digest: one changed byte in the signed part */
  size_t n;
  char *t = (char *)tu_read_data("dir/consensus-ns-2022-11-19", &n);
  char *w = strstr(t, "w Bandwidth=270\n");
  ck_assert_ptr_nonnull(w);
  w[13] = '8';
  c = ep_consensus_parse(t, n, &err);
  ck_assert_ptr_nonnull(c);
  ck_assert_uint_eq(ep_consensus_router(c, 0)->bandwidth, 280);
  ck_assert_int_eq(ep_consensus_verify_signatures(c, auths, certs, now, 0, &rep, &err), EP_ERR_VERIFY);
  ck_assert_uint_eq(rep.n_good, 0);
  ck_assert_int_eq(rep.status[0], EP_SIGST_BAD);
  ck_assert_msg(strstr(err.msg, "consensus: 0 good signatures from 9 trusted authorities, need 5; "
                                "line 39261: tor26 (14C131DF...): signature does not verify") != NULL,
                "%s", err.msg);
  ep_consensus_free(c);
  w[13] = '7';
  /* a flipped bit in one signature: 7 still verify */
  char *sig = strstr(t, "-----BEGIN SIGNATURE-----\n");
  sig[strlen("-----BEGIN SIGNATURE-----\n") + 5] ^= 0x01;
  c = ep_consensus_parse(t, n, &err);
  ck_assert_ptr_nonnull(c);
  ck_assert_int_eq(ep_consensus_verify_signatures(c, auths, certs, now, 0, &rep, &err), EP_OK);
  ck_assert_uint_eq(rep.n_good, 7);
  ck_assert_int_eq(rep.status[0], EP_SIGST_BAD);
  ep_consensus_free(c);
  free(t);
  ep_authcerts_free(certs);
  ep_dir_authset_free(testnet);
  ep_dir_authset_free(auths);
}
END_TEST

START_TEST(excerpt_2026_fails_verification) {
  ep_consensus_t *c = parse_file("dir/consensus-excerpt-2026-07-27");
  ck_assert_uint_eq(ep_consensus_n_routers(c), 5);
  ck_assert_int_eq(ep_consensus_method(c), 35);
  ck_assert_uint_eq(ep_consensus_n_signatures(c), 9);
  const ep_routerstatus_t *d2d4 = ep_consensus_router(c, 3);
  ck_assert_str_eq(d2d4->nickname, "d2d4");
  ck_assert(d2d4->flags & EP_RS_EXIT);
  ck_assert(d2d4->has_ipv6);
  ck_assert(!ep_policy_summary_allows(d2d4->policy, 25));
  ck_assert(ep_policy_summary_allows(d2d4->policy, 443));
  ep_authcerts_t *certs = certs_file("dir/authcert-all-2026");
  ep_sigreport_t rep;
  ep_err_t err = {0};
  time_t now = tor_time("2026-07-27 10:30:00");
  ck_assert_int_eq(ep_consensus_check_time(c, now, 0, &err), EP_OK);
  ck_assert_int_eq(ep_consensus_verify_signatures(c, ep_dir_authset_builtin(), certs, now, 0, &rep, &err),
                   EP_ERR_VERIFY);
  ck_assert_uint_eq(rep.n_good, 0);
  ck_assert_uint_eq(rep.n_known, 9);
  size_t bad = 0, nocert = 0;
  for (size_t i = 0; i < rep.n_sigs; i++) {
    bad += rep.status[i] == EP_SIGST_BAD;
    nocert += rep.status[i] == EP_SIGST_NO_CERT || rep.status[i] == EP_SIGST_EXPIRED_CERT;
  }
  ck_assert_uint_eq(bad, 2); /* longclaw, faravahar: the trimming broke them */
  ck_assert_uint_eq(bad + nocert, 9);
  ck_assert_msg(strstr(err.msg, "consensus: 0 good signatures from 9 trusted authorities, need 5; line ") ==
                    err.msg, "%s", err.msg);
  ck_assert_int_eq(ep_consensus_verify(c, ep_dir_authset_builtin(), certs, now, 0, &err), EP_ERR_VERIFY);
  ep_authcerts_free(certs);
  ep_consensus_free(c);
}
END_TEST

START_TEST(testnet_verifies) {
  ep_dir_authset_t *auths = auths_file("dir/testnet-torrc");
  ep_authcerts_t *certs = certs_file("dir/testnet-keys-all");
  time_t now = tor_time("2026-11-25 04:33:25");
  const char *files[] = {"dir/testnet-consensus", "dir/testnet-consensus-microdesc"};
  for (int k = 0; k < 2; k++) {
    ep_consensus_t *c = parse_file(files[k]);
    ck_assert_uint_eq(ep_consensus_n_routers(c), 15);
    ck_assert_int_eq(ep_consensus_flavor(c), k == 0 ? EP_FLAVOR_NS : EP_FLAVOR_MICRODESC);
    size_t len;
    ck_assert_ptr_nonnull(ep_consensus_text(c, EP_CONS_CLIENT_VERSIONS, &len));
    ck_assert_uint_eq(len, 0); /* "client-versions " with no versions */
    ep_err_t err = {0};
    ep_sigreport_t rep;
    ck_assert_msg(ep_consensus_verify_signatures(c, auths, certs, now, 0, &rep, &err) == EP_OK, "%s",
                  err.msg);
    ck_assert_uint_eq(rep.n_good, 3);
    ck_assert_uint_eq(rep.n_needed, 2);
    ck_assert_int_eq(ep_consensus_verify(c, auths, certs, now, 0, &err), EP_OK);
    ck_assert_int_eq(ep_consensus_verify(c, auths, certs, now + 60, 0, &err), EP_ERR_EXPIRED);
    if (k == 0) {
      size_t p25 = 0;
      for (size_t i = 0; i < ep_consensus_n_routers(c); i++) {
        p25 += ep_policy_summary_allows(ep_routerstatus_policy(ep_consensus_router(c, i)), 25);
      }
      ck_assert_uint_eq(p25, 10);
    }
    ep_consensus_free(c);
  }
  ep_authcerts_free(certs);
  ep_dir_authset_free(auths);
}
END_TEST

/* Parse a truncated text; if it parses, it must not verify unless the cut
 * left a complete document (ending after a signature) with enough
 * signatures. Either way, no crash or leak, and errors name the document. */
static void parse_must_fail_or_not_verify(const char *t, size_t n, const ep_dir_authset_t *auths,
                                          const ep_authcerts_t *certs, time_t now, const char *what,
                                          size_t at) {
  ep_err_t err = {0};
  ep_consensus_t *c = ep_consensus_parse(t, n, &err);
  if (c == NULL) {
    ck_assert_msg(err.code < 0 && strstr(err.msg, "consensus") != NULL, "%s at %zu: '%s'", what, at,
                  err.msg);
    return;
  }
  static const char end[] = "-----END SIGNATURE-----\n";
  bool complete = n >= sizeof end - 1 && memcmp(t + n - (sizeof end - 1), end, sizeof end - 1) == 0;
  ck_assert_msg(complete, "%s at %zu parsed", what, at);
  ep_sigreport_t rep;
  int rc = ep_consensus_verify_signatures(c, auths, certs, now, 0, &rep, &err);
  ck_assert_int_eq(rc == EP_OK, rep.n_good >= rep.n_needed);
  ck_assert_uint_eq(rep.n_good, ep_consensus_n_signatures(c));
  if (rc != EP_OK) {
    ck_assert_msg(strstr(err.msg, "consensus") != NULL, "%s", err.msg);
  }
  ep_consensus_free(c);
}

START_TEST(truncated_everywhere) {
  ep_dir_authset_t *auths = auths_file("dir/testnet-torrc");
  ep_authcerts_t *certs = certs_file("dir/testnet-keys-all");
  time_t now = tor_time("2026-11-25 04:33:25");
  size_t n;
  char *t = (char *)tu_read_data("dir/testnet-consensus", &n);
  /* every byte position of the testnet consensus */
  for (size_t cut = 0; cut < n; cut++) {
    parse_must_fail_or_not_verify(t, cut, auths, certs, now, "testnet truncated", cut);
  }
  free(t);
  ep_authcerts_free(certs);
  ep_dir_authset_free(auths);

  /* the 2022 one at 40 points, including inside the last signature */
  auths = auths_file("dir/authorities-2022-11-19.torrc");
  certs = certs_file("dir/cached-certs-2022-11-19");
  now = tor_time("2022-11-19 11:30:00");
  t = (char *)tu_read_data("dir/consensus-ns-2022-11-19", &n);
  for (size_t k = 0; k < 40; k++) {
    size_t cut = k < 30 ? n / 30 * k + 17 : n - 1 - (k - 30) * 37;
    parse_must_fail_or_not_verify(t, cut, auths, certs, now, "2022 truncated", cut);
  }
  free(t);
  ep_authcerts_free(certs);
  ep_dir_authset_free(auths);
}
END_TEST

START_TEST(garbled_documents) {
  ep_dir_authset_t *auths = auths_file("dir/testnet-torrc");
  ep_authcerts_t *certs = certs_file("dir/testnet-keys-all");
  time_t now = tor_time("2026-11-25 04:33:25");
  size_t n;
  char *orig = (char *)tu_read_data("dir/testnet-consensus", &n);
  char *t = malloc(n);
  ck_assert_ptr_nonnull(t);
  const char *start = strstr(orig, "directory-signature ");
  size_t signed_len = (size_t)(start - orig) + strlen("directory-signature ");
  uint32_t x = 12345;
  static const char junk[] = " \n-=\t\r\0aZ09:/@";
  for (int round = 0; round < 600; round++) {
    memcpy(t, orig, n);
    int flips = 1 + round % 3;
    for (int f = 0; f < flips; f++) {
      x = x * 1103515245u + 12345u;
      size_t pos = (x >> 8) % n;
      t[pos] = (round & 1) ? junk[(x >> 3) % (sizeof junk - 1)] : (char)(orig[pos] ^ (1 << ((x >> 4) % 7)));
    }
    bool in_signed = memcmp(t, orig, signed_len) != 0;
    ep_err_t err = {0};
    ep_consensus_t *c = ep_consensus_parse(t, n, &err);
    if (c == NULL) {
      ck_assert_msg(err.code < 0 && strstr(err.msg, "consensus") == err.msg, "round %d: '%s'", round,
                    err.msg);
      continue;
    }
    int rc = ep_consensus_verify(c, auths, certs, now, 0, &err);
    if (in_signed) {
      ck_assert_msg(rc != EP_OK, "round %d: changed signed text verified", round);
    }
    ep_consensus_free(c);
  }
  free(t);
  free(orig);
  ep_authcerts_free(certs);
  ep_dir_authset_free(auths);
}
END_TEST

static void expect_error(const char *doc, int code, const char *msg) {
  ep_err_t err = {0};
  ep_consensus_t *c = ep_consensus_parse(doc, strlen(doc), &err);
  ck_assert_msg(c == NULL, "parsed: %s", doc);
  ck_assert_int_eq(err.code, code);
  ck_assert_msg(strstr(err.msg, msg) != NULL, "got '%s', want '%s'", err.msg, msg);
  /* the owning variant frees the text on failure (ASan would see a leak) */
  char *copy = malloc(strlen(doc) + 1);
  ck_assert_ptr_nonnull(copy);
  memcpy(copy, doc, strlen(doc) + 1);
  ck_assert_ptr_null(ep_consensus_parse_owned(copy, strlen(doc), &err));
  ck_assert_int_eq(err.code, code);
}

#define HDR                                                                                        \
  "network-status-version 3\nvote-status consensus\nconsensus-method 32\n"                       \
  "valid-after 2022-11-19 10:00:00\nfresh-until 2022-11-19 11:00:00\n"                           \
  "valid-until 2022-11-19 13:00:00\nvoting-delay 300 300\nknown-flags Exit Fast Running Valid\n"
#define SRC                                                                                        \
  "dir-source a 0232AF901C31A04EE9848595AF9BB7620D4C5B2E h 1.2.3.4 80 443\ncontact x\n"         \
  "vote-digest 73665E5C8B2ECE6978F80DB069FFE6E3C24F65C0\n"
#define R1 "r seele AAoQ1DAR6kkoo19hBAX5K0QztNw FF26jNpQfRpYdz65WYv+O9pFPtY 2022-11-19 03:58:26 104.53.221.159 9001 0\n"
#define R2 "r titamon3 ABElTMhEQ2myDvERVriZBDgiGlQ y/fqWhmFHAgpsHc59tXyQKtcRks 2022-11-18 21:31:58 178.218.144.18 443 0\n"
#define SIG                                                                                        \
  "directory-signature 0232AF901C31A04EE9848595AF9BB7620D4C5B2E 4A69B937C66923151A7B98F091135E5E7529F375\n" \
  "-----BEGIN SIGNATURE-----\nAAAA\n-----END SIGNATURE-----\n"

START_TEST(malformed_consensus_errors) {
  ep_err_t err = {0};
  /* the skeleton parses */
  const char *ok = HDR SRC R1 "s Exit Fast Running Valid Unlisted\np accept 25\n" R2 "s Fast\n"
                   "directory-footer\n" SIG;
  ep_consensus_t *c = ep_consensus_parse(ok, strlen(ok), &err);
  ck_assert_msg(c != NULL, "%s", err.msg);
  ck_assert_uint_eq(ep_consensus_router(c, 0)->flags, EP_RS_EXIT | EP_RS_FAST | EP_RS_RUNNING | EP_RS_VALID);
  const char *signed_text;
  size_t signed_len;
  ep_consensus_signed_range(c, &signed_text, &signed_len);
  ck_assert_uint_eq(signed_len, strlen(HDR SRC R1 "s Exit Fast Running Valid Unlisted\np accept 25\n" R2
                                       "s Fast\ndirectory-footer\ndirectory-signature "));
  ep_consensus_free(c);

  expect_error(HDR SRC "r seele AAoQ1DAR6kkoo19hBAX5K0QztNw 1\ns Fast\n" SIG, EP_ERR_MALFORMED,
               "consensus line 12: 'r' wants at least 8 arguments, has 3");
  expect_error(HDR SRC R1 "p accept 25\n" SIG, EP_ERR_MALFORMED,
               "consensus line 12: the router entry has no 's' item");
  expect_error(HDR SRC R2 "s Fast\n" R1 "s Fast\n" SIG, EP_ERR_MALFORMED,
               "consensus line 14: router entries are not sorted by identity");
  expect_error(HDR SRC R1 "s Fast\n" R1 "s Fast\n" SIG, EP_ERR_MALFORMED,
               "consensus line 14: a second router entry for the same identity");
  expect_error(HDR SRC R1 "s Fast\ns Fast\n" SIG, EP_ERR_MALFORMED,
               "consensus line 14: 's' may appear only once in the router entry");
  expect_error(HDR SRC R1 "s Fast\np allow 25\n" SIG, EP_ERR_MALFORMED,
               "consensus line 14: 'p': policy summary must start with 'accept' or 'reject'");
  expect_error(HDR SRC R1 "s Fast\n", EP_ERR_TRUNCATED, "consensus line 14: no directory-signature");
  expect_error(HDR R1 "s Fast\n" SIG, EP_ERR_MALFORMED, "no dir-source entries");
  expect_error(HDR SRC R1 "s Fast\n" SRC SIG, EP_ERR_MALFORMED,
               "consensus line 14: 'dir-source' after the router entry");
  expect_error("vote-status consensus\n", EP_ERR_MALFORMED,
               "consensus line 1: does not start with network-status-version");
  expect_error("network-status-version 3 fancy\n", EP_ERR_UNSUPPORTED, "unknown consensus flavour 'fancy'");
  /* document text in messages is escaped for terminals */
  expect_error("network-status-version 3 \x1b[2J\n", EP_ERR_UNSUPPORTED,
               "unknown consensus flavour '\\x1b[2J'");
  expect_error(HDR "vote-status vote\n" SRC R1 "s Fast\n" SIG, EP_ERR_MALFORMED,
               "'vote-status' may appear only once in the preamble");
  expect_error("network-status-version 3\nvote-status vote\n", EP_ERR_UNSUPPORTED,
               "consensus line 2: vote-status is not 'consensus'");
  expect_error(HDR "params a=1 b=x\n" SRC SIG, EP_ERR_MALFORMED, "consensus line 9: 'b=x' is not a 32-bit integer");
  expect_error(HDR "params a=2147483648\n" SRC SIG, EP_ERR_MALFORMED, "is not a 32-bit integer");
  expect_error(HDR SRC R1 "s Fast\na [::1\n" SIG, EP_ERR_MALFORMED, "consensus line 14: 'a' has a bad address");
  expect_error(HDR SRC R1 "s Fast\nw Bandwidth=99999999999\n" SIG, EP_ERR_MALFORMED, "bad Bandwidth");
  expect_error(HDR SRC "r bad-nick AAoQ1DAR6kkoo19hBAX5K0QztNw FF26jNpQfRpYdz65WYv+O9pFPtY 2022-11-19 03:58:26 1.2.3.4 1 0\ns\n" SIG,
               EP_ERR_MALFORMED, "'r' has a bad nickname");
  expect_error(HDR SRC "r n AAoQ1DAR6kkoo19hBAX5K0QztNw FF26jNpQfRpYdz65WYv+O9pFPtY 2022-13-19 03:58:26 1.2.3.4 1 0\ns\n" SIG,
               EP_ERR_MALFORMED, "'r' has a bad publication time");
  expect_error(HDR SRC "r n AAoQ1DAR6kkoo19hBAX5K0QztNw FF26jNpQfRpYdz65WYv+O9pFPtY 2022-11-19 03:58:26 1.2.3.4 65536 0\ns\n" SIG,
               EP_ERR_MALFORMED, "'r' has a bad port");
  expect_error(HDR "dir-source a 0232AF901C31A04EE9848595AF9BB7620D4C5B2E h 1.2.3.4 80 443\n" R1 "s Fast\n" SIG,
               EP_ERR_MALFORMED, "consensus line 9: dir-source a lacks 'contact'");
  expect_error(HDR SRC R1 "s Fast\ndirectory-signature 0232AF901C31A04EE9848595AF9BB7620D4C5B2E 4A69\n"
               "-----BEGIN SIGNATURE-----\nAAAA\n-----END SIGNATURE-----\n",
               EP_ERR_MALFORMED, "consensus line 14: bad fingerprint in directory-signature");
  expect_error(HDR SRC R1 "s Fast\ndirectory-signature 0232AF901C31A04EE9848595AF9BB7620D4C5B2E 4A69B937C66923151A7B98F091135E5E7529F375\n",
               EP_ERR_MALFORMED, "consensus line 14: 'directory-signature' wants an object");
  expect_error("network-status-version 3 microdesc\nvote-status consensus\nconsensus-method 32\n"
               "valid-after 2022-11-19 10:00:00\nfresh-until 2022-11-19 11:00:00\n"
               "valid-until 2022-11-19 13:00:00\nvoting-delay 300 300\nknown-flags Fast\n" SRC
               "r n AAoQ1DAR6kkoo19hBAX5K0QztNw 2022-11-19 03:58:26 1.2.3.4 1 0\ns Fast\n" SIG,
               EP_ERR_MALFORMED, "microdesc consensus line 12: the router entry has no 'm' item");
  expect_error("", EP_ERR_TRUNCATED, "consensus: empty document");
  /* an unknown signature algorithm is ignored, not an error */
  const char *alg = HDR SRC R1 "s Fast\ndirectory-signature sha3 0232AF901C31A04EE9848595AF9BB7620D4C5B2E x\n"
                    "-----BEGIN SIGNATURE-----\nAAAA\n-----END SIGNATURE-----\n" SIG;
  c = ep_consensus_parse(alg, strlen(alg), &err);
  ck_assert_msg(c != NULL, "%s", err.msg);
  ck_assert_uint_eq(ep_consensus_n_signatures(c), 1);
  ep_consensus_free(c);
}
END_TEST

static Suite *dir_consensus_suite(void) {
  Suite *s = suite_create("dir_consensus");
  TCase *tc = tcase_create("core");
  tcase_set_timeout(tc, 300);
  tcase_add_test(tc, ns_2022_parses);
  tcase_add_test(tc, md_2022_parses);
  tcase_add_test(tc, certs_2022_verify);
  tcase_add_test(tc, certs_tampered_fail);
  tcase_add_test(tc, other_certs_parse);
  tcase_add_test(tc, signatures_2022_verify);
  tcase_add_test(tc, collector_type_annotations);
  tcase_add_test(tc, signatures_fail_clearly);
  tcase_add_test(tc, excerpt_2026_fails_verification);
  tcase_add_test(tc, testnet_verifies);
  tcase_add_test(tc, truncated_everywhere);
  tcase_add_test(tc, garbled_documents);
  tcase_add_test(tc, malformed_consensus_errors);
  suite_add_tcase(s, tc);
  return s;
}

int main(void) { return tu_run_suite(dir_consensus_suite()); }
