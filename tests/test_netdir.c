/* exitprobe — unit tests of src/probe/netdir: the joined view of a consensus
 * and its microdescriptors / server descriptors, exits for a port, first
 * hops, lookups, targets. Real documents: the public network of 2022-11-19
 * and a testnet (tests/data/dir, tests/data/dirclient). */
#include "config.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dir/consensus.h"
#include "dir/microdesc.h"
#include "dir/routerdesc.h"
#include "lib/caps.h"
#include "lib/encode.h"
#include "probe/dirclient/netdir.h"
#include "testutil.h"

static ep_consensus_t *cons(const char *rel) {
  size_t n;
  uint8_t *t = tu_read_data(rel, &n);
  ep_err_t err = {0};
  ep_consensus_t *c = ep_consensus_parse((const char *)t, n, &err);
  ck_assert_msg(c != NULL, "%s: %s", rel, err.msg);
  free(t);
  return c;
}

static ep_microdescs_t *mds_from(const char *text, size_t n, unsigned flags) {
  ep_err_t err = {0};
  ep_microdescs_t *m = ep_microdescs_parse(text, n, flags, &err);
  ck_assert_msg(m != NULL, "microdescs: %s", err.msg);
  return m;
}

static ep_microdescs_t *mds(const char *rel) {
  size_t n;
  uint8_t *t = tu_read_data(rel, &n);
  ep_microdescs_t *m = mds_from((const char *)t, n, EP_MD_SKIP_INVALID);
  free(t);
  return m;
}

static ep_netdir_t *netdir(const char *crel, const char *mrel) {
  ep_err_t err = {0};
  ep_netdir_t *nd = ep_netdir_new(cons(crel), &err);
  ck_assert_msg(nd != NULL, "%s", err.msg);
  if (mrel != NULL) {
    size_t used = 0;
    ck_assert_int_eq(ep_netdir_add_microdescs(nd, mds(mrel), &used, &err), EP_OK);
  }
  return nd;
}

/* ---- the 2022 public network ---- */

START_TEST(md_2022_join_and_exits_25) {
  ep_err_t err = {0};
  ep_netdir_t *nd = ep_netdir_new(cons("dir/consensus-md-2022-11-19"), &err);
  ck_assert_ptr_nonnull(nd);
  ck_assert_int_eq(ep_netdir_flavor(nd), EP_FLAVOR_MICRODESC);
  ck_assert_uint_eq(ep_netdir_count(nd), 6088);
  ck_assert_uint_eq(ep_netdir_n_missing_md(nd), 6088);
  size_t used = 0;
  ck_assert_int_eq(ep_netdir_add_microdescs(nd, mds("dir/microdescs-2022-11-19"), &used, &err),
                   EP_OK);
  /* 1788 microdescriptors, 1722 of them named by an "m" line. */
  ck_assert_uint_eq(used, 1722);
  ck_assert_uint_eq(ep_netdir_n_missing_md(nd), 6088 - 1722);
  uint8_t *miss = NULL;
  size_t nmiss = 0;
  ck_assert_int_eq(ep_netdir_missing_md_digests(nd, false, &miss, &nmiss, &err), EP_OK);
  ck_assert_uint_eq(nmiss, 6088 - 1722);
  for (size_t i = 1; i < nmiss; i++) {
    ck_assert(memcmp(miss + (i - 1) * 32, miss + i * 32, 32) < 0);  /* sorted, unique */
  }
  free(miss);

  ep_exit_query_t q = {.port = 25};
  ep_exit_candidate_t *v = NULL;
  size_t n = 0;
  ep_exit_stats_t st;
  ck_assert_int_eq(ep_netdir_exits(nd, &q, &v, &n, &st, &err), EP_OK);
  /* Computed independently from the documents: 9 relays with a
   * microdescriptor accept 25 by their "p" line, one of them BadExit. */
  ck_assert_uint_eq(n, 8);
  ck_assert_uint_eq(st.n_badexit_left_out, 1);
  ck_assert_uint_eq(st.n_no_policy, 6088 - 1722);
  ck_assert_uint_eq(st.n_by_summary, 8);
  ck_assert_uint_eq(st.n_by_full, 0);
  for (size_t i = 0; i < n; i++) {
    const ep_relay_t *r = v[i].relay;
    ck_assert(r->has_md && r->has_ntor && r->has_policy);
    ck_assert(ep_policy_summary_allows(r->policy, 25));
    ck_assert_int_eq(v[i].answer.verdict, EP_POLICY_ACCEPT);
    ck_assert_int_eq(v[i].answer.basis, EP_POLICY_BASIS_SUMMARY);
    /* Accepted by a summary: not restricted as far as it says, but some
     * addresses may be rejected (tor leaves small rejects out). */
    ck_assert(!v[i].may_be_restricted);
    ck_assert(v[i].some_may_be_rejected);
    ck_assert((r->flags & (EP_RS_RUNNING | EP_RS_VALID)) == (EP_RS_RUNNING | EP_RS_VALID));
    ck_assert((r->flags & EP_RS_BADEXIT) == 0);
    /* Its target carries the microdescriptor's keys. */
    ep_target_t t;
    ck_assert_int_eq(ep_netdir_target(nd, r, &t, &err), EP_OK);
    ck_assert(memcmp(t.ntor_key, r->md->ntor_key, 32) == 0);
    ck_assert(memcmp(t.rsa_id, r->rsa_id, 20) == 0);
    ck_assert_uint_eq(t.ipv4, r->ipv4);
    ck_assert_uint_eq(t.or_port, r->or_port);
    ck_assert_int_eq(t.has_ed25519, r->md->has_ed25519);
  }
  ck_assert_str_eq(v[0].relay->nickname, "EO");
  free(v);
  /* Over IPv6 the "p6" summaries answer. */
  ep_exit_query_t q6 = {.port = 25, .family = 6};
  ck_assert_int_eq(ep_netdir_exits(nd, &q6, &v, &n, &st, &err), EP_OK);
  size_t want6 = 0;
  for (size_t i = 0; i < ep_netdir_count(nd); i++) {
    const ep_relay_t *r = ep_netdir_relay(nd, i);
    const uint32_t rv = EP_RS_RUNNING | EP_RS_VALID;
    want6 += r->has_md && (r->flags & rv) == rv && (r->flags & EP_RS_BADEXIT) == 0 &&
             ep_policy_summary_allows(r->policy6, 25);
  }
  ck_assert_uint_gt(want6, 0);
  ck_assert_uint_eq(n, want6);
  for (size_t i = 0; i < n; i++) {
    ck_assert(ep_policy_summary_allows(v[i].relay->policy6, 25));
  }
  free(v);
  q.include_badexit = true;
  ck_assert_int_eq(ep_netdir_exits(nd, &q, &v, &n, &st, &err), EP_OK);
  ck_assert_uint_eq(n, 9);
  ck_assert_uint_eq(st.n_badexit_left_out, 0);
  size_t nbad = 0;
  for (size_t i = 0; i < n; i++) {
    nbad += (v[i].relay->flags & EP_RS_BADEXIT) != 0;
  }
  ck_assert_uint_eq(nbad, 1);
  free(v);
  /* A relay without its microdescriptor: no key, said so. */
  for (size_t i = 0; i < ep_netdir_count(nd); i++) {
    const ep_relay_t *r = ep_netdir_relay(nd, i);
    if (!r->has_md) {
      ep_target_t t;
      ck_assert_int_eq(ep_netdir_target(nd, r, &t, &err), EP_ERR_STATE);
      ck_assert_msg(strstr(err.msg, "microdescriptor is missing") != NULL, "%s", err.msg);
      break;
    }
  }
  ep_netdir_free(nd);
}
END_TEST

START_TEST(ns_2022_fifty_accept_25) {
  ep_err_t err = {0};
  ep_netdir_t *nd = netdir("dir/consensus-ns-2022-11-19", NULL);
  ck_assert_int_eq(ep_netdir_flavor(nd), EP_FLAVOR_NS);
  ck_assert_uint_eq(ep_netdir_n_missing_md(nd), 0);
  ep_exit_query_t q = {.port = 25, .include_badexit = true};
  ep_exit_candidate_t *v = NULL;
  size_t n = 0;
  ep_exit_stats_t st;
  ck_assert_int_eq(ep_netdir_exits(nd, &q, &v, &n, &st, &err), EP_OK);
  ck_assert_uint_eq(n, 50);
  ck_assert_uint_eq(st.n_no_policy, 0);
  for (size_t i = 0; i < n; i++) {
    ck_assert(ep_policy_summary_allows(v[i].relay->policy, 25));
    ck_assert(!v[i].relay->has_ntor);
  }
  ep_target_t t;
  ck_assert_int_eq(ep_netdir_target(nd, v[0].relay, &t, &err), EP_ERR_STATE);
  ck_assert_msg(strstr(err.msg, "ns consensus carries none") != NULL, "%s", err.msg);
  free(v);
  q.include_badexit = false;
  ck_assert_int_eq(ep_netdir_exits(nd, &q, &v, &n, &st, &err), EP_OK);
  ck_assert_uint_eq(n, 49);
  ck_assert_uint_eq(st.n_badexit_left_out, 1);
  free(v);
  /* Port 443 is accepted much more widely; port 0 is refused as a query. */
  q.port = 443;
  ck_assert_int_eq(ep_netdir_exits(nd, &q, &v, &n, &st, &err), EP_OK);
  ck_assert_uint_gt(n, 1000);
  free(v);
  q.port = 0;
  ck_assert_int_eq(ep_netdir_exits(nd, &q, &v, &n, &st, &err), EP_ERR_MALFORMED);
  ck_assert_ptr_null(v);
  /* Microdescriptors do not join an ns consensus. */
  ck_assert_int_eq(ep_netdir_add_microdescs(nd, mds("dir/microdescs-2022-11-19"), NULL, &err),
                   EP_ERR_STATE);
  ep_netdir_free(nd);
}
END_TEST

START_TEST(lookup_by_fingerprint) {
  ep_err_t err = {0};
  ep_netdir_t *nd = netdir("dir/consensus-md-2022-11-19", NULL);
  const ep_relay_t *r0 = ep_netdir_relay(nd, 100);
  char hex[41], s[64];
  ep_hex_encode(hex, sizeof hex, r0->rsa_id, 20, true);
  ck_assert_ptr_eq(ep_netdir_find(nd, hex, &err), r0);
  snprintf(s, sizeof s, "$%s", hex);
  ck_assert_ptr_eq(ep_netdir_find(nd, s, &err), r0);
  ep_hex_encode(hex, sizeof hex, r0->rsa_id, 20, false);
  ck_assert_ptr_eq(ep_netdir_find(nd, hex, &err), r0);
  snprintf(s, sizeof s, "$%s~%s", hex, r0->nickname);
  ck_assert_ptr_eq(ep_netdir_find(nd, s, &err), r0);
  ck_assert_uint_eq(ep_netdir_index(nd, r0), 100);
  ck_assert_ptr_eq(ep_netdir_find_id(nd, r0->rsa_id), r0);
  /* Absent, and malformed. */
  ck_assert_ptr_null(ep_netdir_find(nd, "0000000000000000000000000000000000000000", &err));
  err.code = 0;
  ck_assert_ptr_null(ep_netdir_find(nd, "$12345", &err));
  ck_assert_int_eq(err.code, EP_ERR_MALFORMED);
  ck_assert_ptr_null(ep_netdir_find(nd, "zz45678901234567890123456789012345678901", &err));
  ck_assert_ptr_null(ep_netdir_find(nd, NULL, &err));
  char name[80];
  ep_relay_name(r0, name, sizeof name);
  ck_assert_uint_eq(strlen(name), 42 + strlen(r0->nickname));
  ck_assert(name[0] == '$' && name[41] == '~');
  ep_netdir_free(nd);
}
END_TEST

START_TEST(first_hops_2022_family_and_subnet) {
  ep_err_t err = {0};
  ep_netdir_t *nd = netdir("dir/consensus-md-2022-11-19", "dir/microdescs-2022-11-19");
  /* An exit with a family whose members have microdescriptors too. */
  const ep_relay_t *exit = NULL;
  size_t n_members = 0;
  for (size_t i = 0; i < ep_netdir_count(nd) && exit == NULL; i++) {
    const ep_relay_t *r = ep_netdir_relay(nd, i);
    if (!r->has_md || r->family == NULL || (r->flags & EP_RS_EXIT) == 0) {
      continue;
    }
    size_t k = 0;
    for (size_t j = 0; j < ep_netdir_count(nd); j++) {
      const ep_relay_t *o = ep_netdir_relay(nd, j);
      const uint32_t g = EP_RS_FAST | EP_RS_STABLE | EP_RS_GUARD | EP_RS_RUNNING | EP_RS_VALID;
      if (o != r && o->has_md && (o->flags & g) == g && ep_netdir_same_family(r, o)) {
        k++;
      }
    }
    if (k > 0) {
      exit = r;
      n_members = k;
    }
  }
  ck_assert_ptr_nonnull(exit);
  ck_assert_uint_gt(n_members, 0);
  ep_hop_query_t hq = {.exit = exit};
  const ep_relay_t **hops = NULL;
  size_t nh = 0;
  ck_assert_int_eq(ep_netdir_first_hops(nd, &hq, &hops, &nh, &err), EP_OK);
  ck_assert_uint_gt(nh, 100);
  for (size_t i = 0; i < nh; i++) {
    const ep_relay_t *h = hops[i];
    const uint32_t g = EP_RS_FAST | EP_RS_STABLE | EP_RS_GUARD | EP_RS_RUNNING | EP_RS_VALID;
    ck_assert((h->flags & g) == g);
    ck_assert(h->has_ntor);
    ck_assert_ptr_ne(h, exit);
    ck_assert(!ep_netdir_same_family(h, exit));
    ck_assert((h->ipv4 >> 16) != (exit->ipv4 >> 16));
    if (i > 0) {
      ck_assert_uint_ge(hops[i - 1]->bandwidth, h->bandwidth);
    }
  }
  /* Without an exit: every guard with a key, family members included. */
  const ep_relay_t **all = NULL;
  size_t nall = 0;
  ck_assert_int_eq(ep_netdir_first_hops(nd, NULL, &all, &nall, &err), EP_OK);
  ck_assert_uint_ge(nall, nh + n_members);
  free(all);
  free(hops);
  ep_netdir_free(nd);
}
END_TEST

START_TEST(family_and_subnet_rules) {
  ep_relay_t a, b;
  memset(&a, 0, sizeof a);
  memset(&b, 0, sizeof b);
  memset(a.rsa_id, 0xAA, 20);
  memset(b.rsa_id, 0xBB, 20);
  const char *fam = "$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA nickname "
                    "$bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb=bee";
  ck_assert(!ep_netdir_same_family(&a, &b));
  a.family = fam;
  a.family_len = strlen(fam);
  ck_assert(ep_netdir_same_family(&a, &b)); /* a names b (one side is enough) */
  ck_assert(ep_netdir_same_family(&b, &a));
  a.family_len = 50;                         /* only the first two words */
  ck_assert(!ep_netdir_same_family(&a, &b));
  ck_assert(ep_netdir_same_family(&a, &a));
  /* happy families (tor 0.4.9): one identifier on both family-ids lines */
  a.family = NULL;
  const char *ids_a = "ed25519:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA ed25519:xyz";
  const char *ids_b = "future:1 ed25519:xyz";
  const char *ids_c = "ed25519:xy ed25519:xyzz xyz";
  a.family_ids = ids_a;
  a.family_ids_len = strlen(ids_a);
  ck_assert(!ep_netdir_same_family(&a, &b)); /* b lists none */
  b.family_ids = ids_b;
  b.family_ids_len = strlen(ids_b);
  ck_assert(ep_netdir_same_family(&a, &b));
  ck_assert(ep_netdir_same_family(&b, &a));
  b.family_ids_len = 9;                      /* "future:1 " only */
  ck_assert(!ep_netdir_same_family(&a, &b));
  b.family_ids = ids_c;                      /* prefixes and suffixes are not equal */
  b.family_ids_len = strlen(ids_c);
  ck_assert(!ep_netdir_same_family(&a, &b));
  a.family_ids = b.family_ids = NULL;
  a.ipv4 = 0x01020304;
  b.ipv4 = 0x0102FFFF;
  ck_assert(ep_netdir_same_subnet(&a, &b));
  b.ipv4 = 0x0103FFFF;
  ck_assert(!ep_netdir_same_subnet(&a, &b));
  a.has_ipv6 = b.has_ipv6 = true;
  a.ipv6[0] = b.ipv6[0] = 0x20;
  ck_assert(ep_netdir_same_subnet(&a, &b));  /* same IPv6 /32 */
  b.ipv6[3] = 1;
  ck_assert(!ep_netdir_same_subnet(&a, &b));
}
END_TEST

/* ---- a testnet: everything on 127.0.0.1 ---- */

START_TEST(testnet_exits_and_hops) {
  ep_err_t err = {0};
  ep_netdir_t *nd = netdir("dirclient/consensus-microdesc", "dirclient/micro-d");
  ck_assert_uint_eq(ep_netdir_count(nd), 15);
  ck_assert_uint_eq(ep_netdir_n_missing_md(nd), 0);
  ep_exit_query_t q = {.port = 25};
  ep_exit_candidate_t *v = NULL;
  size_t n = 0;
  ck_assert_int_eq(ep_netdir_exits(nd, &q, &v, &n, NULL, &err), EP_OK);
  /* 9 exits and the accept-25-only relay (which has no Exit flag). */
  ck_assert_uint_eq(n, 10);
  bool saw_only25 = false;
  for (size_t i = 0; i < n; i++) {
    if (strcmp(v[i].relay->nickname, "only25") == 0) {
      saw_only25 = true;
      ck_assert((v[i].relay->flags & EP_RS_EXIT) == 0);
    } else {
      ck_assert(strncmp(v[i].relay->nickname, "exit", 4) == 0);
    }
  }
  ck_assert(saw_only25);
  free(v);
  q.port = 80;
  ck_assert_int_eq(ep_netdir_exits(nd, &q, &v, &n, NULL, &err), EP_OK);
  ck_assert_uint_eq(n, 9);
  free(v);
  q.port = 26;
  ck_assert_int_eq(ep_netdir_exits(nd, &q, &v, &n, NULL, &err), EP_OK);
  ck_assert_uint_eq(n, 0);
  ck_assert_ptr_null(v);

  const ep_relay_t *exit = ep_netdir_find(nd, "30FB87721EC7E135935CDBA7D96CE5E5B08815A5", &err);
  ck_assert_ptr_nonnull(exit);
  ck_assert_str_eq(exit->nickname, "exit9");
  ck_assert(exit->has_ed25519);
  char flags[160];
  ep_netdir_flags_format(nd, exit->flags, flags, sizeof flags);
  ck_assert_str_eq(flags, "Exit,Fast,Guard,HSDir,Running,Stable,V2Dir,Valid");
  ep_netdir_flags_format(nd, exit->flags, flags, 12);
  ck_assert_str_eq(flags, "Exit,Fast");
  /* Everything is 127.0.0.1: the /16 rule leaves nothing unless relaxed. */
  ep_hop_query_t hq = {.exit = exit};
  const ep_relay_t **hops = NULL;
  size_t nh = 0;
  ck_assert_int_eq(ep_netdir_first_hops(nd, &hq, &hops, &nh, &err), EP_OK);
  ck_assert_uint_eq(nh, 0);
  ck_assert_ptr_null(hops);
  hq.allow_same_16 = true;
  ck_assert_int_eq(ep_netdir_first_hops(nd, &hq, &hops, &nh, &err), EP_OK);
  ck_assert_uint_eq(nh, 14);
  for (size_t i = 0; i < nh; i++) {
    ck_assert_ptr_ne(hops[i], exit);
  }
  free(hops);

  /* What a cache keeps: the joined texts parse back to the same digests. */
  ep_buf_t b;
  ep_buf_init(&b, EP_CAP_MICRODESCS, "microdescs", 0);
  ck_assert_int_eq(ep_netdir_microdesc_text(nd, &b, &err), EP_OK);
  ep_microdescs_t *back = mds_from((const char *)b.data, b.len, 0);
  ck_assert_uint_eq(ep_microdescs_count(back), 15);
  for (size_t i = 0; i < ep_netdir_count(nd); i++) {
    ck_assert_ptr_nonnull(ep_microdescs_find(back, ep_netdir_relay(nd, i)->rs->digest));
  }
  ep_microdescs_free(back);
  ep_buf_free(&b);
  ep_netdir_free(nd);
}
END_TEST

START_TEST(microdesc_digest_mismatch_and_malformed) {
  ep_err_t err = {0};
  size_t n;
  char *t = (char *)tu_read_data("dirclient/micro-d", &n);
  /* Change one character of the first ntor key: its digest no longer
   * matches any "m" line, so that relay stays without a microdescriptor. */
  char *k = strstr(t, "ntor-onion-key ");
  ck_assert_ptr_nonnull(k);
  k[15] = k[15] == 'A' ? 'B' : 'A';
  ep_netdir_t *nd = netdir("dirclient/consensus-microdesc", NULL);
  size_t used = 0;
  ck_assert_int_eq(ep_netdir_add_microdescs(nd, mds_from(t, n, EP_MD_SKIP_INVALID), &used, &err),
                   EP_OK);
  ck_assert_uint_eq(used, 14);
  ck_assert_uint_eq(ep_netdir_n_missing_md(nd), 1);
  /* The original joins the missing one only; the others keep theirs. */
  ck_assert_int_eq(ep_netdir_add_microdescs(nd, mds("dirclient/micro-d"), &used, &err), EP_OK);
  ck_assert_uint_eq(used, 1);
  ck_assert_uint_eq(ep_netdir_n_missing_md(nd), 0);
  ep_netdir_free(nd);
  free(t);

  /* A malformed microdescriptor (its ntor key cut short) is skipped, and
   * its relay marked: it is not asked for again unless asked to. For its
   * digest to be one the consensus names, the consensus is edited too (its
   * signatures are not checked here). */
  t = (char *)tu_read_data("dirclient/micro-d", &n);
  ep_microdescs_t *good = mds_from(t, n, 0);
  char old_b64[64], new_b64[64];
  ck_assert_int_eq(ep_base64_encode(old_b64, sizeof old_b64, ep_microdescs_get(good, 0)->digest,
                                    32, EP_B64_NOPAD), 43);
  ep_microdescs_free(good);
  k = strstr(t, "ntor-onion-key ");
  memcpy(k + 15, "AAAA ", 5);
  ep_microdescs_t *bad = mds_from(t, n, EP_MD_SKIP_INVALID);
  ck_assert_uint_eq(ep_microdescs_n_invalid(bad), 1);
  ck_assert_int_eq(ep_base64_encode(new_b64, sizeof new_b64, ep_microdescs_invalid_digest(bad, 0),
                                    32, EP_B64_NOPAD), 43);
  size_t clen;
  char *ctext = (char *)tu_read_data("dirclient/consensus-microdesc", &clen);
  char *m = strstr(ctext, old_b64);
  ck_assert_ptr_nonnull(m);
  memcpy(m, new_b64, 43);
  ep_consensus_t *c = ep_consensus_parse(ctext, clen, &err);
  ck_assert_msg(c != NULL, "%s", err.msg);
  free(ctext);
  nd = ep_netdir_new(c, &err);
  ck_assert_ptr_nonnull(nd);
  ck_assert_int_eq(ep_netdir_add_microdescs(nd, bad, &used, &err), EP_OK);
  ck_assert_uint_eq(used, 14);
  uint8_t *miss = NULL;
  size_t nmiss = 9;
  ck_assert_int_eq(ep_netdir_missing_md_digests(nd, false, &miss, &nmiss, &err), EP_OK);
  ck_assert_uint_eq(nmiss, 0);
  ck_assert_ptr_null(miss);
  ck_assert_int_eq(ep_netdir_missing_md_digests(nd, true, &miss, &nmiss, &err), EP_OK);
  ck_assert_uint_eq(nmiss, 1);
  const ep_relay_t *r = NULL;
  for (size_t i = 0; i < ep_netdir_count(nd); i++) {
    if (!ep_netdir_relay(nd, i)->has_md) {
      r = ep_netdir_relay(nd, i);
    }
  }
  ck_assert_ptr_nonnull(r);
  ck_assert(r->md_invalid);
  ck_assert(memcmp(miss, r->rs->digest, 32) == 0);
  ep_target_t tg;
  ck_assert_int_eq(ep_netdir_target(nd, r, &tg, &err), EP_ERR_STATE);
  ck_assert_msg(strstr(err.msg, "malformed") != NULL, "%s", err.msg);
  free(miss);
  ep_netdir_free(nd);
  free(t);
}
END_TEST

static ep_routerdescs_t *descs(const char *rel) {
  size_t n;
  uint8_t *t = tu_read_data(rel, &n);
  ep_err_t err = {0};
  ep_routerdescs_t *l = ep_routerdescs_parse((const char *)t, n, &err);
  ck_assert_msg(l != NULL, "%s: %s", rel, err.msg);
  free(t);
  return l;
}

START_TEST(full_policies_from_server_descriptors) {
  ep_err_t err = {0};
  ep_netdir_t *nd = netdir("dirclient/consensus-microdesc", "dirclient/micro-d");
  time_t now = ep_consensus_valid_after(ep_netdir_consensus(nd)) + 5;
  size_t used = 0, rejected = 0;
  ck_assert_int_eq(
      ep_netdir_add_routerdescs(nd, descs("dirclient/server-all"), now, &used, &rejected, &err),
      EP_OK);
  ck_assert_uint_eq(used, 15);
  ck_assert_uint_eq(rejected, 0);
  ep_exit_query_t q = {.port = 25};
  ep_exit_candidate_t *v = NULL;
  size_t n = 0;
  ep_exit_stats_t st;
  ck_assert_int_eq(ep_netdir_exits(nd, &q, &v, &n, &st, &err), EP_OK);
  ck_assert_uint_eq(n, 10);
  ck_assert_uint_eq(st.n_by_full, 10);
  for (size_t i = 0; i < n; i++) {
    ck_assert_int_eq(v[i].answer.basis, EP_POLICY_BASIS_FULL);
    ck_assert_int_eq(v[i].answer.verdict, EP_POLICY_ACCEPT);
    /* "accept *:25 ... reject *:*": nothing hidden. */
    ck_assert(!v[i].may_be_restricted);
    ck_assert(!v[i].some_may_be_rejected);
  }
  free(v);
  q.summary_only = true;
  ck_assert_int_eq(ep_netdir_exits(nd, &q, &v, &n, &st, &err), EP_OK);
  ck_assert_uint_eq(st.n_by_summary, 10);
  free(v);
  ep_netdir_free(nd);

  /* With the ns flavour the descriptor must be the one the consensus names:
   * these were published after that consensus was made. */
  nd = netdir("dirclient/consensus", NULL);
  ck_assert_int_eq(
      ep_netdir_add_routerdescs(nd, descs("dirclient/server-all"), now, &used, &rejected, &err),
      EP_OK);
  ck_assert_uint_eq(used, 0);
  ck_assert_uint_eq(rejected, 15);
  ck_assert_msg(strstr(err.msg, "digest differs") != NULL, "%s", err.msg);
  ep_netdir_free(nd);

  /* A descriptor whose signed text was changed does not verify. */
  size_t len;
  char *t = (char *)tu_read_data("dirclient/server-all", &len);
  char *p = strstr(t, "accept *:80");
  ck_assert_ptr_nonnull(p);
  memcpy(p, "accept *:81", 11);
  ep_routerdescs_t *l = ep_routerdescs_parse(t, len, &err);
  ck_assert_ptr_nonnull(l);
  nd = netdir("dirclient/consensus-microdesc", "dirclient/micro-d");
  ck_assert_int_eq(ep_netdir_add_routerdescs(nd, l, now, &used, &rejected, &err), EP_OK);
  ck_assert_uint_eq(used, 14);
  ck_assert_uint_eq(rejected, 1);
  ck_assert_int_eq(err.code, EP_ERR_VERIFY);
  ep_netdir_free(nd);
  free(t);
}
END_TEST

static Suite *suite(void) {
  Suite *s = suite_create("netdir");
  TCase *tc = tcase_create("public-2022");
  tcase_set_timeout(tc, 120);
  tcase_add_test(tc, md_2022_join_and_exits_25);
  tcase_add_test(tc, ns_2022_fifty_accept_25);
  tcase_add_test(tc, lookup_by_fingerprint);
  tcase_add_test(tc, first_hops_2022_family_and_subnet);
  tcase_add_test(tc, family_and_subnet_rules);
  suite_add_tcase(s, tc);
  tc = tcase_create("testnet");
  tcase_add_test(tc, testnet_exits_and_hops);
  tcase_add_test(tc, microdesc_digest_mismatch_and_malformed);
  tcase_add_test(tc, full_policies_from_server_descriptors);
  suite_add_tcase(s, tc);
  return s;
}

int main(void) { return tu_run_suite(suite()); }
