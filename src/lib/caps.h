/* exitprobe — every size cap in one place (curl's dynbuf rule). */
#ifndef EP_LIB_CAPS_H
#define EP_LIB_CAPS_H

#define EP_KiB (1024u)
#define EP_MiB (1024u * 1024u)

/* Directory documents (the 2022 ns consensus is 2.4 MB; the largest seen on
 * the live network are well under 8 MB). */
#define EP_CAP_CONSENSUS        (32u * EP_MiB)
#define EP_CAP_MICRODESCS       (64u * EP_MiB)
#define EP_CAP_SERVER_DESCS     (64u * EP_MiB)
#define EP_CAP_AUTHCERTS        (4u * EP_MiB)
#define EP_CAP_DIR_DOCUMENT     (64u * EP_MiB)   /* any one fetched body */
#define EP_CAP_HTTP_HEADER      (16u * EP_KiB)
/* Inflated size may not exceed this multiple of the compressed size
 * (plus a small constant): the deflate-bomb guard. */
#define EP_CAP_INFLATE_RATIO    64u
#define EP_CAP_INFLATE_SLACK    (64u * EP_KiB)
#define EP_CAP_DOC_LINE         (64u * EP_KiB)   /* one line of a document */
#define EP_CAP_DOC_OBJECT       (64u * EP_KiB)   /* one -----BEGIN ...----- object */
#define EP_CAP_DOC_ENTRIES      200000u          /* router entries in one consensus */

/* Link and circuits. */
#define EP_CAP_LINK_INBUF       (256u * EP_KiB)  /* undecoded bytes from one TLS link */
#define EP_CAP_LINK_OUTBUF      (1u * EP_MiB)    /* bytes queued to one TLS link */
#define EP_CAP_VAR_CELL         (65535u + 7u)
#define EP_CAP_CIRCS_PER_CHAN   4096u
#define EP_CAP_STREAMS_PER_CIRC 64u
#define EP_CAP_VPADDING_CELLS   64u              /* padding cells before we give up */

/* The event loop: fd table entries (fds are below RLIMIT_NOFILE, at most
 * nr_open), timer slots, deferred calls waiting for the next turn. */
#define EP_CAP_LOOP_FDS         (16u * EP_MiB)
#define EP_CAP_LOOP_TIMERS      0xffffffffu      /* slot numbers are uint32_t */
#define EP_CAP_LOOP_DEFERS      (16u * EP_MiB)

/* Services. */
#define EP_CAP_BANNER           1024u            /* bytes of a greeting kept */
#define EP_CAP_SVC_INPUT        (64u * EP_KiB)   /* bytes one service check reads, TLS included */
#define EP_CAP_STREAM_INBUF     (64u * EP_KiB)   /* data read on one probe stream */
#define EP_CAP_JSON_INPUT       (16u * EP_MiB)
#define EP_CAP_JSON_DEPTH       64u
/* Items of one JSON array or object (each takes at least two input bytes). */
#define EP_CAP_JSON_ITEMS       (EP_CAP_JSON_INPUT / 2u)

/* One scan round: at most ~200,000 candidate exits (EP_CAP_DOC_ENTRIES) x 16
 * ports, in practice a few thousand exits. */
#define EP_CAP_VIOLATORS        131072u          /* violators listed in a round's summary */
#define EP_CAP_HELD_RECORDS     131072u          /* records waiting for the target to answer */
#define EP_CAP_IDS_PER_PORT     64u              /* distinct destination identities tallied per port */

/* exitprobe report (#12): result records read into one model. */
#define EP_CAP_REPORT_LINE      (64u * EP_KiB)   /* one JSON Lines record */
#define EP_CAP_REPORT_PAIRS     4000000u         /* (exit, port, vantage) aggregates */
#define EP_CAP_REPORT_ROUNDS    1000000u         /* (round, port) chart bars */
#define EP_CAP_REPORT_STRINGS   8000000u         /* distinct text fields kept */
#define EP_CAP_REPORT_STR_BYTES (512u * EP_MiB)  /* their bytes */
#define EP_CAP_REPORT_FIELD     1024u            /* bytes of one text field kept */
#define EP_CAP_REPORT_HTML_ROWS 200u             /* violators shown inline per port */

/* Relay contact information kept in records (issue #12). */
#define EP_CAP_CONTACT          1024u            /* bytes of a "contact" line kept */
#define EP_CAP_CIISS_FIELD      255u             /* one ContactInfo field (email:, url:, ...) */
#define EP_CAP_PLATFORM         256u             /* bytes of a "platform" line kept */
#define EP_CAP_FAMILY_MEMBERS   256u             /* "family" entries kept per relay */
#define EP_CAP_FAMILY_ENTRY     64u              /* bytes of one "family" entry ($FP~nick is 61) */
#define EP_CAP_NOTICE_PAIRS     1000u            /* (exit, port) pairs listed in one operator notice */

/* Public network (#13, engineer ipv6). */
#define EP_CAP_PATH             4096u            /* a file path built from a directory and a name */
#define EP_CAP_VANTAGE          64u              /* bytes of a --vantage name */

/* First-hop history in the cache directory (issue #13, engine/hops.h). */
#define EP_CAP_HOPHIST_ENTRIES  65536u           /* hops remembered */
#define EP_CAP_HOPHIST_FILE     (4u * 1024u * 1024u) /* its file */

#endif
