/* exitprobe — selecting exits and first hops for a scan. */
#include "config.h"

#include "probe/cmd/scandir.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "dir/authority.h"
#include "lib/log.h"
#include "probe/dirclient/dirclient.h"
#include "probe/dirclient/dirvia.h"
#include "probe/net/relayspec.h"

struct ep_scandir {
  ep_netdir_t *nd;
  ep_scan_relay_t *exits;
  size_t n_exits;
  ep_scan_relay_t *hops;
  size_t n_hops;
  bool test_network;
  ep_relay_contact_t *contacts;  /* one per exit (issue #12) */
};

void ep_scandir_opts_defaults(ep_scandir_opts_t *o) { memset(o, 0, sizeof *o); }

const char *const ep_scandir_dir_via_choices[] = {"dirport", "orport", NULL};

static const uint16_t control_candidates[] = {80, 443, 8080, 53, 22, 993, 995, 110, 143, 6667};

static void fill_relay(const ep_netdir_t *nd, const ep_relay_t *r, ep_scan_relay_t *out) {
  memset(out, 0, sizeof *out);
  ep_netdir_target(nd, r, &out->target, NULL);
  ep_fingerprint_format(out->ref.fingerprint, r->rsa_id);
  snprintf(out->ref.nickname, sizeof out->ref.nickname, "%s", r->nickname);
  ep_ipv4_format(out->ref.address, r->ipv4);
  out->ref.or_port = r->or_port;
  out->handle = r;
  out->bandwidth = r->bandwidth;
}

static bool given_match(const ep_netdir_t *nd, const char *const *given, size_t n,
                        const ep_relay_t *r, bool *any_lookups) {
  bool any = false;
  for (size_t i = 0; i < n; i++) {
    if (ep_relayspec_is_explicit(given[i])) {
      continue;
    }
    any = true;
    if (ep_netdir_find(nd, given[i], NULL) == r) {
      *any_lookups = true;
      return true;
    }
  }
  *any_lookups = any;
  return !any;
}

/* Given fingerprints must exist: say which do not. */
static int check_given(const ep_netdir_t *nd, const ep_scandir_opts_t *o, ep_err_t *err) {
  for (size_t i = 0; i < o->n_given_exits + o->n_given_hops; i++) {
    const char *g = i < o->n_given_exits ? o->given_exits[i] : o->given_hops[i - o->n_given_exits];
    ep_err_t ferr = {0};
    if (!ep_relayspec_is_explicit(g) && ep_netdir_find(nd, g, &ferr) == NULL) {
      return ep_err_set(err, EP_ERR_MALFORMED, "relay %s: %s", g, ferr.msg);
    }
  }
  return EP_OK;
}

/* Port p's candidates into sd->exits: a new exit, or port p in the mask of
 * one already there (slot: relay index -> exits index + 1). */
static int add_port_exits(ep_scandir_t *sd, const ep_scandir_opts_t *o, size_t p, size_t *slot,
                          ep_err_t *err) {
  ep_exit_query_t q = {.port = o->ports[p], .family = o->family,
                       .include_badexit = o->include_badexit};
  ep_exit_candidate_t *cands = NULL;
  size_t nc = 0;
  ep_exit_stats_t st;
  int rc = ep_netdir_exits(sd->nd, &q, &cands, &nc, &st, err);
  if (rc != EP_OK) {
    return rc;
  }
  for (size_t i = 0; i < nc; i++) {
    const ep_relay_t *r = cands[i].relay;
    bool lookups;
    if (!given_match(sd->nd, o->given_exits, o->n_given_exits, r, &lookups)) {
      continue;
    }
    size_t ri = ep_netdir_index(sd->nd, r);
    if (slot[ri] == 0) {
      ep_scan_relay_t *e = &sd->exits[sd->n_exits++];
      fill_relay(sd->nd, r, e);
      e->policy_basis = cands[i].answer.basis == EP_POLICY_BASIS_FULL ? "full" : "summary";
      slot[ri] = sd->n_exits;
    }
    ep_scan_relay_t *e = &sd->exits[slot[ri] - 1];
    e->ports_mask |= 1u << p;
    e->may_be_restricted = e->may_be_restricted || cands[i].may_be_restricted;
  }
  free(cands);
  return EP_OK;
}

/* Candidates: the union over the ports, with a port mask per exit. */
static int select_exits(ep_scandir_t *sd, const ep_scandir_opts_t *o, ep_err_t *err) {
  size_t n_relays = ep_netdir_count(sd->nd);
  sd->exits = calloc(n_relays ? n_relays : 1, sizeof *sd->exits);
  size_t *slot = calloc(n_relays ? n_relays : 1, sizeof *slot);
  int rc = sd->exits != NULL && slot != NULL ? EP_OK
                                             : ep_err_set(err, EP_ERR_NOMEM, "out of memory");
  for (size_t p = 0; rc == EP_OK && p < o->n_ports; p++) {
    rc = add_port_exits(sd, o, p, slot, err);
  }
  free(slot);
  return rc;
}

/* Each exit's contact information: its server descriptor's contact,
 * platform and family lines, else the microdescriptor's family. */
static int attach_contacts(ep_scandir_t *sd, ep_err_t *err) {
  sd->contacts = calloc(sd->n_exits ? sd->n_exits : 1, sizeof *sd->contacts);
  if (sd->contacts == NULL) {
    return ep_err_set(err, EP_ERR_NOMEM, "out of memory");
  }
  int rc = EP_OK;
  for (size_t i = 0; rc == EP_OK && i < sd->n_exits; i++) {
    const ep_relay_t *r = sd->exits[i].handle;
    const ep_routerdesc_t *d = r->desc;
    if (d != NULL) {
      rc = ep_relay_contact_set(&sd->contacts[i], d->contact, d->contact_len, d->platform,
                                d->platform_len, d->family, d->family_len, err);
    } else {
      rc = ep_relay_contact_set(&sd->contacts[i], NULL, 0, NULL, 0, r->family, r->family_len, err);
    }
    sd->exits[i].contact = &sd->contacts[i];
  }
  return rc;
}

/* A control port: one its policy accepts that is not being probed. */
static void pick_control_ports(ep_scandir_t *sd, const ep_scandir_opts_t *o) {
  for (size_t i = 0; i < sd->n_exits; i++) {
    const ep_relay_t *r = sd->exits[i].handle;
    for (size_t c = 0; c < sizeof control_candidates / sizeof control_candidates[0]; c++) {
      bool probed = false;
      for (size_t p = 0; p < o->n_ports; p++) {
        probed = probed || o->ports[p] == control_candidates[c];
      }
      if (!probed && ep_policy_summary_eval(r->policy, control_candidates[c]).verdict == EP_POLICY_ACCEPT) {
        sd->exits[i].control_port = control_candidates[c];
        break;
      }
    }
  }
}

/* The first hops the user named (running relays with an ntor key). */
static int named_hops(const ep_netdir_t *nd, const ep_scandir_opts_t *o, const ep_relay_t ***hops,
                      size_t *nh, ep_err_t *err) {
  *hops = calloc(o->n_given_hops, sizeof **hops);
  if (*hops == NULL) {
    return ep_err_set(err, EP_ERR_NOMEM, "out of memory");
  }
  for (size_t i = 0; i < o->n_given_hops; i++) {
    const ep_relay_t *r = ep_relayspec_is_explicit(o->given_hops[i])
                              ? NULL
                              : ep_netdir_find(nd, o->given_hops[i], NULL);
    if (r == NULL) {
      continue;
    }
    if (!r->has_ntor) {
      return ep_err_set(err, EP_ERR_STATE, "first hop %s: no microdescriptor (no ntor key)",
                        o->given_hops[i]);
    }
    (*hops)[(*nh)++] = r;
  }
  return EP_OK;
}

/* First hops: the ones given (any running relay the user names), or the
 * fast stable guards of the directory. */
static int select_hops(ep_scandir_t *sd, const ep_scandir_opts_t *o, ep_err_t *err) {
  const ep_relay_t **hops = NULL;
  size_t nh = 0;
  bool named = false;
  for (size_t i = 0; i < o->n_given_hops; i++) {
    named = named || !ep_relayspec_is_explicit(o->given_hops[i]);
  }
  int rc;
  if (named) {
    rc = named_hops(sd->nd, o, &hops, &nh, err);
  } else {
    ep_hop_query_t hq = {.exit = NULL, .allow_same_16 = true};
    rc = ep_netdir_first_hops(sd->nd, &hq, &hops, &nh, err);
  }
  if (rc == EP_OK) {
    sd->hops = calloc(nh ? nh : 1, sizeof *sd->hops);
    rc = sd->hops != NULL ? EP_OK : ep_err_set(err, EP_ERR_NOMEM, "out of memory");
  }
  for (size_t i = 0; rc == EP_OK && i < nh; i++) {
    fill_relay(sd->nd, hops[i], &sd->hops[sd->n_hops++]);
  }
  free(hops);
  return rc;
}

/* A network whose relays all share one /16 is a local test network. */
static bool is_test_network(const ep_netdir_t *nd) {
  size_t n_relays = ep_netdir_count(nd);
  bool test = n_relays > 1;
  uint32_t first16 = n_relays > 0 ? ep_netdir_relay(nd, 0)->ipv4 >> 16 : 0;
  for (size_t i = 1; i < n_relays && test; i++) {
    test = (ep_netdir_relay(nd, i)->ipv4 >> 16) == first16;
  }
  return test;
}

ep_scandir_t *ep_scandir_from_netdir(ep_netdir_t *nd, const ep_scandir_opts_t *o, ep_err_t *err) {
  ep_scandir_t *sd = calloc(1, sizeof *sd);
  if (sd == NULL) {
    ep_netdir_free(nd);
    ep_err_set(err, EP_ERR_NOMEM, "out of memory");
    return NULL;
  }
  sd->nd = nd;
  if (check_given(nd, o, err) != EP_OK || select_exits(sd, o, err) != EP_OK ||
      attach_contacts(sd, err) != EP_OK) {
    ep_scandir_free(sd);
    return NULL;
  }
  pick_control_ports(sd, o);
  if (select_hops(sd, o, err) != EP_OK) {
    ep_scandir_free(sd);
    return NULL;
  }
  sd->test_network = is_test_network(nd);
  return sd;
}

void ep_scandir_free(ep_scandir_t *sd) {
  if (sd == NULL) {
    return;
  }
  ep_netdir_free(sd->nd);
  for (size_t i = 0; sd->contacts != NULL && i < sd->n_exits; i++) {
    ep_relay_contact_clear(&sd->contacts[i]);
  }
  free(sd->contacts);
  free(sd->exits);
  free(sd->hops);
  free(sd);
}

void ep_scandir_relays(ep_scandir_t *sd, ep_scan_relay_t **exits, size_t *n_exits,
                       ep_scan_relay_t **hops, size_t *n_hops) {
  *exits = sd->exits;
  *n_exits = sd->n_exits;
  *hops = sd->hops;
  *n_hops = sd->n_hops;
}

void ep_scandir_own_hops(ep_scandir_t *sd, ep_scan_relay_t *hops, size_t n_hops) {
  if (hops != sd->hops) {
    free(sd->hops);
    sd->hops = hops;
  }
  sd->n_hops = n_hops;
}

bool ep_scandir_is_test_network(const ep_scandir_t *sd) { return sd->test_network; }

const ep_netdir_t *ep_scandir_netdir(const ep_scandir_t *sd) { return sd->nd; }

bool ep_scandir_related(const ep_scan_relay_t *exit, const ep_scan_relay_t *hop, void *arg) {
  (void)arg;
  const ep_relay_t *a = exit->handle, *b = hop->handle;
  if (a == NULL || b == NULL) {
    return false;
  }
  return ep_netdir_same_family(a, b);
}

/* Fetch and verify through the directory client. */
ep_netdir_t *ep_scandir_fetch(ep_loop_t *loop, const ep_scandir_opts_t *o, ep_err_t *err) {
  ep_dirclient_opts_t dco;
  ep_dirclient_opts_default(&dco);
  ep_dir_authset_t *auths = NULL;
  const char *authfile = ep_dirclient_authorities_path(o->dir_authorities);
  if (authfile != NULL) {
    auths = ep_dir_authset_load(authfile, err);
    if (auths == NULL) {
      return NULL;
    }
    if (ep_dir_authset_n_v3(auths) == 0) {
      ep_err_set(err, EP_ERR_MALFORMED, "%s: no v3 DirAuthority lines", authfile);
      ep_dir_authset_free(auths);
      return NULL;
    }
    dco.auths = auths;
  }
  dco.cache_dir = o->cache_dir;
  dco.full_policies = !o->summary_only;
  ep_dir_transport_t *via = NULL;
  if (o->dir_via_orport) {
    via = ep_dir_transport_orport_new(o->tls);
    if (via == NULL) {
      ep_dir_authset_free(auths);
      ep_err_set(err, EP_ERR_NOMEM, "out of memory");
      return NULL;
    }
    dco.transport = via;
  }
  dco.no_cache = o->no_cache;
  ep_dirclient_stats_t st;
  memset(&st, 0, sizeof st);
  ep_err_t derr = {0};
  ep_netdir_t *nd = NULL;
  if (o->tor_data_dir != NULL) {
    /* a local tor's files: read and verified like fetched ones, no request */
    ep_dirclient_datadir_t dd;
    ep_dirclient_files_t files;
    memset(&files, 0, sizeof files);
    if (ep_dirclient_datadir_files(o->tor_data_dir, &dd, &files, &derr) == EP_OK) {
      nd = ep_dirclient_load_files(&files, &dco, &st, &derr);
      ep_dirclient_datadir_free(&dd);
    }
  } else {
    nd = ep_dirclient_fetch(loop, &dco, &st, &derr);
  }
  ep_dir_authset_free(auths);
  ep_loop_run_once(loop, 0, NULL); /* release finished BEGIN_DIR links */
  ep_dir_transport_orport_free(via);
  if (nd == NULL) {
    ep_err_set(err, derr.code ? derr.code : EP_ERR_VERIFY, "no verified directory: %s", derr.msg);
    return NULL;
  }
  ep_notice("directory: consensus from %s, %zu/%zu signatures good, %zu microdescriptors "
            "(%zu cached, %zu fetched, %zu missing) in %lld ms",
            st.consensus_from, st.sigs_good, st.auths_known, st.md_from_cache + st.md_fetched,
            st.md_from_cache, st.md_fetched, st.md_missing, (long long)st.ms_total);
  return nd;
}

ep_scandir_t *ep_scandir_load(ep_loop_t *loop, const ep_scandir_opts_t *o, ep_err_t *err) {
  ep_netdir_t *nd = ep_scandir_fetch(loop, o, err);
  return nd != NULL ? ep_scandir_from_netdir(nd, o, err) : NULL;
}

static bool nickname_ok(const char *s) {
  size_t n = strlen(s);
  bool ok = n >= 1 && n <= 19;
  for (size_t i = 0; ok && i < n; i++) {
    ok = (s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z') || (s[i] >= '0' && s[i] <= '9');
  }
  return ok;
}

const ep_relay_t *ep_scandir_lookup(const ep_netdir_t *nd, const char *name, ep_err_t *err) {
  ep_err_t ferr = {0};
  const ep_relay_t *r = ep_netdir_find(nd, name, &ferr);
  if (r != NULL || ferr.code == 0) {
    if (r == NULL) {
      ep_err_set(err, EP_ERR_MALFORMED, "relay %s: not in the consensus", name);
    }
    return r;
  }
  if (!nickname_ok(name)) {
    ep_err_set(err, EP_ERR_MALFORMED, "relay '%.64s': neither a fingerprint nor a nickname", name);
    return NULL;
  }
  size_t matches = 0;
  for (size_t i = 0; i < ep_netdir_count(nd); i++) {
    const ep_relay_t *c = ep_netdir_relay(nd, i);
    if (strcasecmp(c->nickname, name) == 0) {
      r = c;
      matches++;
    }
  }
  if (matches != 1) {
    ep_err_set(err, EP_ERR_MALFORMED, "relay %s: %s", name,
               matches == 0 ? "no relay has this nickname"
                            : "several relays have this nickname: give a fingerprint");
    return NULL;
  }
  return r;
}

const ep_relay_t *ep_scandir_pick_first_hop(const ep_netdir_t *nd, const ep_relay_t *exit,
                                            ep_err_t *err) {
  ep_hop_query_t q = {.exit = exit, .allow_same_16 = is_test_network(nd)};
  const ep_relay_t **hops = NULL;
  size_t n = 0;
  if (ep_netdir_first_hops(nd, &q, &hops, &n, err) != EP_OK) {
    return NULL;
  }
  const ep_relay_t *r = n > 0 ? hops[0] : NULL;
  free(hops);
  if (r == NULL) {
    ep_err_set(err, EP_ERR_STATE, "no relay fit to be the first hop (Guard, Fast, Stable, Running, "
               "Valid, with an ntor key, outside the exit's family and /16)");
  }
  return r;
}

int ep_scandir_full_policy(const ep_scan_relay_t *exit, const ep_ipaddr_t *addr, uint16_t port,
                           void *arg) {
  (void)arg;
  const ep_relay_t *r = exit->handle;
  if (r == NULL || r->desc == NULL) {
    return 0;
  }
  ep_policy_answer_t a;
  if (addr != NULL && (addr->family == EP_IPADDR_V4 || addr->family == EP_IPADDR_V6)) {
    ep_ipaddr_t da;
    memset(&da, 0, sizeof da);
    da.family = addr->family == EP_IPADDR_V4 ? 4 : 6;
    memcpy(da.bytes, addr->bytes, da.family == 4 ? 4 : 16);
    a = ep_routerdesc_policy_eval(r->desc, &da, da.family, port);
  } else {
    a = ep_routerdesc_policy_eval(r->desc, NULL, 4, port);
    if (a.verdict == EP_POLICY_ACCEPT_SOME) {
      return 0;
    }
  }
  return a.verdict == EP_POLICY_REJECT ? -1 : 1;
}

void ep_scandir_dos_params(const ep_scandir_t *sd, ep_dos_params_t *p) {
  ep_dos_params_read(ep_netdir_consensus(sd->nd), p);
}
