/* exitprobe — the consensus DoS parameters (see dosparams.h). */
#include "config.h"

#include "dir/dosparams.h"

void ep_dos_params_defaults(ep_dos_params_t *p) {
  p->circ_enabled = true;
  p->circ_min_conns = 2;
  p->circ_rate = 2;
  p->circ_burst = 60;
  p->conn_enabled = true;
  p->conn_max_concurrent = 50;
}

/* Bounds as tor 0.4.9's dos.c gives them. */
void ep_dos_params_read(const ep_consensus_t *c, ep_dos_params_t *p) {
  ep_dos_params_defaults(p);
  if (c == NULL) {
    return;
  }
  p->circ_enabled = ep_consensus_param(c, "DoSCircuitCreationEnabled", 1, 0, 1) != 0;
  p->circ_min_conns = ep_consensus_param(c, "DoSCircuitCreationMinConnections", 2, 1, INT32_MAX);
  p->circ_rate = ep_consensus_param(c, "DoSCircuitCreationRate", 2, 1, INT32_MAX);
  p->circ_burst = ep_consensus_param(c, "DoSCircuitCreationBurst", 60, 1, INT32_MAX);
  p->conn_enabled = ep_consensus_param(c, "DoSConnectionEnabled", 1, 0, 1) != 0;
  p->conn_max_concurrent =
      ep_consensus_param(c, "DoSConnectionMaxConcurrentCount", 50, 1, INT32_MAX);
}
