/* exitprobe — parse, warn, join; consensus verification (see dirjoin.h). */
#include "config.h"

#include "probe/dirclient/dirjoin.h"

#include <stdio.h>

#include "dir/microdesc.h"
#include "dir/routerdesc.h"
#include "lib/log.h"
#include "lib/timeutil.h"

int ep_dirclient_verify_consensus(const ep_consensus_t *c, const ep_dir_authset_t *auths,
                                  const ep_authcerts_t *certs, time_t now, int64_t skew,
                                  ep_dir_timecheck_t tc, ep_sigreport_t *rep, ep_err_t *err) {
  if (tc == EP_DIR_TIME_LIVE) {
    int rc = ep_consensus_check_time(c, now, skew, err);
    if (rc != EP_OK) {
      return rc;
    }
  } else {
    char t[24], n[24];
    ep_time_format_tor(n, sizeof n, now);
    if ((int64_t)now + skew < (int64_t)ep_consensus_valid_after(c)) {
      ep_time_format_tor(t, sizeof t, ep_consensus_valid_after(c));
      return ep_err_set(err, EP_ERR_EXPIRED, "%s: not valid before %s (at %s)",
                        ep_consensus_doc_name(c), t, n);
    }
    if ((int64_t)now > (int64_t)ep_consensus_valid_until(c) + EP_DIR_REASONABLY_LIVE_S) {
      ep_time_format_tor(t, sizeof t, ep_consensus_valid_until(c));
      return ep_err_set(err, EP_ERR_EXPIRED,
                        "%s: valid until %s, more than 24 h before %s: not even reasonably live",
                        ep_consensus_doc_name(c), t, n);
    }
  }
  return ep_consensus_verify_signatures(c, auths, certs, now, skew, rep, err);
}

void ep_dirjoin_note_consensus(ep_dirclient_stats_t *st, const ep_sigreport_t *rep,
                               const char *from) {
  st->sigs_good = rep->n_good;
  st->sigs_needed = rep->n_needed;
  st->auths_known = rep->n_known;
  snprintf(st->consensus_from, sizeof st->consensus_from, "%s", from);
}

static const char *const join_noun[] = {"microdescriptor", "server descriptor"};

/* "3 malformed microdescriptors skipped (first: ...)", or for a file
 * "FILE: 3 malformed microdescriptor(s) skipped (first: ...)". */
static void warn_count(const char *where, size_t n, const char *adj, ep_dirjoin_kind_t kind,
                       const char *verb, const char *first) {
  if (where != NULL) {
    ep_warn("%s: %zu %s%s(s) %s (first: %s)", where, n, adj, join_noun[kind], verb, first);
  } else {
    ep_warn("%zu %s%s%s %s (first: %s)", n, adj, join_noun[kind], n == 1 ? "" : "s", verb, first);
  }
}

/* A list as parsed, before it is joined. */
typedef struct parsed {
  ep_microdescs_t *mds;
  ep_routerdescs_t *descs;
  size_t invalid;             /* malformed entries skipped */
  const char *first_invalid;  /* what was wrong with the first (owned by the list) */
} parsed_t;

static int parse_list(ep_dirjoin_kind_t kind, const uint8_t *text, size_t len, parsed_t *p,
                      ep_err_t *e) {
  if (kind == EP_DIRJOIN_MICRODESCS) {
    p->mds = ep_microdescs_parse((const char *)text, len, EP_MD_SKIP_INVALID, e);
    p->invalid = p->mds != NULL ? ep_microdescs_n_invalid(p->mds) : 0;
    p->first_invalid = p->invalid > 0 ? ep_microdescs_first_error(p->mds) : "";
  } else {
    p->descs = ep_routerdescs_parse_flags((const char *)text, len, EP_RD_SKIP_INVALID, e);
    p->invalid = p->descs != NULL ? ep_routerdescs_n_invalid(p->descs) : 0;
    p->first_invalid = p->invalid > 0 ? ep_routerdescs_first_error(p->descs) : "";
  }
  if (p->mds == NULL && p->descs == NULL) {
    return e->code != 0 ? e->code : EP_ERR_MALFORMED;
  }
  return EP_OK;
}

int ep_dirjoin(ep_netdir_t *nd, ep_dirjoin_kind_t kind, const uint8_t *text, size_t len,
               const char *where, time_t now, ep_dirjoin_counts_t *out, ep_err_t *err) {
  ep_err_t local = {0};
  ep_err_t *e = err != NULL ? err : &local;
  out->used = out->invalid = out->rejected = 0;
  parsed_t p = {0};
  int rc = parse_list(kind, text, len, &p, e);
  if (rc == EP_OK) {
    out->invalid = p.invalid;
    if (p.invalid > 0) {
      warn_count(where, p.invalid, "malformed ", kind, "skipped", p.first_invalid);
    }
    if (kind == EP_DIRJOIN_MICRODESCS) {
      rc = ep_netdir_add_microdescs(nd, p.mds, &out->used, e);
    } else {
      /* Descriptors that fail are counted and named in `first`, not errors. */
      ep_err_t first = {0};
      ep_netdir_add_routerdescs(nd, p.descs, now, &out->used, &out->rejected, &first);
      if (out->rejected > 0) {
        warn_count(where, out->rejected, "", kind, "rejected", first.msg);
      }
    }
  }
  if (rc != EP_OK && where != NULL) {
    ep_err_wrap(e, rc, "%s", where);
  }
  return rc;
}
