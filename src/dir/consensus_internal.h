/* exitprobe — what the files of the consensus parser share; not for users
 * (they include dir/consensus.h).
 *
 *   consensus.c          the document: its sections' rules, the driver, free
 *   consensus_preamble.c the preamble and the authority section
 *   consensus_routers.c  router status entries (the hot path)
 *   consensus_footer.c   footer and signatures
 *   consensus_query.c    the accessors of a parsed consensus */
#ifndef EP_DIR_CONSENSUS_INTERNAL_H
#define EP_DIR_CONSENSUS_INTERNAL_H

#include <string.h>

#include "dir/consensus.h"
#include "dir/digestidx.h"
#include "dir/sumpool.h"
#include "dir/token.h"

/* Known flags we keep (64 is far more than the network has ever used). */
#define EP_CONS_MAX_KNOWN_FLAGS 64
/* Parameters / bandwidth weights kept. */
#define EP_CONS_MAX_PARAMS 1024
#define EP_CONS_MAX_DIR_SOURCES 256
#define EP_CONS_MAX_SIGNATURES 256
/* One RSA signature object (16384-bit keys at most). */
#define EP_CONS_MAX_SIG_LEN 2048

/* Rule ids of every item, all sections. */
enum {
  /* header */
  K_NS_VERSION, K_VOTE_STATUS, K_CONS_METHOD, K_CONS_METHODS, K_PUBLISHED, K_VALID_AFTER,
  K_FRESH_UNTIL, K_VALID_UNTIL, K_VOTING_DELAY, K_CLIENT_VERSIONS, K_SERVER_VERSIONS, K_PACKAGE,
  K_KNOWN_FLAGS, K_REC_CLIENT, K_REC_RELAY, K_REQ_CLIENT, K_REQ_RELAY, K_PARAMS, K_SR_PREV,
  K_SR_CUR,
  /* authority section */
  K_DIR_SOURCE, K_CONTACT, K_VOTE_DIGEST,
  /* router entries */
  K_R, K_A, K_S, K_V, K_PR, K_W, K_P, K_M,
  /* footer */
  K_FOOTER, K_BW_WEIGHTS,
  K_SIGNATURE
};

/* A "name=value" of params or bandwidth-weights (name points into the text). */
typedef struct ep_cons_kv {
  const char *name;
  size_t name_len;
  int32_t value;
} ep_cons_kv_t;

typedef struct ep_cons_flagname {
  const char *name;
  size_t len;
  uint32_t bit;
} ep_cons_flagname_t;

struct ep_consensus {
  char *text;
  size_t len;
  size_t signed_len;
  ep_consensus_flavor_t flavor;
  const char *doc;
  int method;
  time_t valid_after, fresh_until, valid_until;
  uint32_t vote_delay, dist_delay;
  const char *texts[EP_CONS_N_TEXTS];
  size_t text_lens[EP_CONS_N_TEXTS];

  ep_cons_flagname_t known[EP_CONS_MAX_KNOWN_FLAGS];
  size_t n_known;

  ep_cons_kv_t *params;
  size_t n_params;
  ep_cons_kv_t *weights;
  size_t n_weights;

  ep_routerstatus_t *rs;
  size_t n_rs, alloc_rs;

  ep_dir_source_t *sources;
  size_t n_sources, alloc_sources;

  ep_dir_signature_t *sigs;
  size_t n_sigs, alloc_sigs;

  ep_sumpool_t sums;          /* policy summaries, shared by text */

  ep_dir_digestidx_t md_index; /* over the entries' md digests (microdesc flavour) */
};

/* The sections, in document order. */
enum ep_cons_section { EP_CS_HEADER, EP_CS_AUTH, EP_CS_ROUTERS, EP_CS_FOOTER, EP_CS_SIGS };

/* The section an item starts (by its keyword), -1 if it starts none.
 * Inline: it is asked of every item of every router entry. */
static inline int ep_cons_section_starting_with(const ep_dir_tok_t *tok) {
  switch (tok->kw_len) {
    case 1:
      return tok->kw[0] == 'r' ? EP_CS_ROUTERS : -1;
    case 10:
      return memcmp(tok->kw, "dir-source", 10) == 0 ? EP_CS_AUTH : -1;
    case 16:
      return memcmp(tok->kw, "directory-footer", 16) == 0 ? EP_CS_FOOTER : -1;
    case 19:
      return memcmp(tok->kw, "directory-signature", 19) == 0 ? EP_CS_SIGS : -1;
    default:
      return -1;
  }
}

/* The error for an item that starts an earlier section than the current one. */
int ep_cons_out_of_order(const ep_consensus_t *c, const ep_dir_tok_t *tok, int section,
                         ep_err_t *err);

/* consensus_preamble.c: one item of the preamble / authority section
 * (matched against its rule), and the end of one dir-source group. */
int ep_cons_header_item(ep_consensus_t *c, const ep_dir_tok_t *tok, ep_err_t *err);
int ep_cons_auth_item(ep_consensus_t *c, const ep_dir_tok_t *tok, ep_err_t *err);
int ep_cons_auth_finish(ep_consensus_t *c, ep_dir_sec_t *sec, size_t line, ep_err_t *err);
/* "name=value ..." (params, bandwidth-weights) into a new array at *out. */
int ep_cons_kv_list(const ep_consensus_t *c, const ep_dir_tok_t *tok, ep_cons_kv_t **out,
                    size_t *nout, ep_err_t *err);

/* consensus_routers.c: the router entries, from tok (an 'r' item) on.
 * Returns 1 with tok the item that starts a later section (the entries
 * checked and done), 0 at the end of the document (likewise), or an error. */
int ep_cons_routers(ep_consensus_t *c, ep_dir_lexer_t *lx, ep_dir_tok_t *tok, ep_err_t *err);

/* consensus_footer.c: one item of the footer / signatures. */
int ep_cons_footer_item(ep_consensus_t *c, const ep_dir_tok_t *tok, ep_err_t *err);
int ep_cons_signature_item(ep_consensus_t *c, ep_dir_tok_t *tok, ep_err_t *err);

#endif
