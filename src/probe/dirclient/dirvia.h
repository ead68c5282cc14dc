/* exitprobe — the directory client's ORPort transport (--dir-via orport):
 * every request is a BEGIN_DIR stream on a one-hop circuit to the server's
 * ORPort, its identity verified from its CERTS cell (probe/dirstream.h). */
#ifndef EP_PROBE_DIRVIA_H
#define EP_PROBE_DIRVIA_H

#include "probe/dirclient/dirclient.h"
#include "probe/net/tls.h"

/* tls must outlive the transport. NULL on allocation failure. */
ep_dir_transport_t *ep_dir_transport_orport_new(ep_tls_ctx_t *tls);
void ep_dir_transport_orport_free(ep_dir_transport_t *t);   /* NULL-safe */

#endif
