/* exitprobe — the relays' denial-of-service parameters a client must stay
 * below (issue #13), read from the consensus `params` line. A parameter that
 * is absent or out of range takes the public network's value of 2026:
 * DoSCircuitCreationEnabled=1 MinConnections=2 Rate=2 Burst=60,
 * DoSConnectionEnabled=1 MaxConcurrentCount=50 (tor's dos.c bounds). */
#ifndef EP_DIR_DOSPARAMS_H
#define EP_DIR_DOSPARAMS_H

#include <stdbool.h>
#include <stdint.h>

#include "dir/consensus.h"

typedef struct ep_dos_params {
  bool circ_enabled;          /* DoSCircuitCreationEnabled */
  int32_t circ_min_conns;     /* DoSCircuitCreationMinConnections */
  int32_t circ_rate;          /* DoSCircuitCreationRate (circuits a second) */
  int32_t circ_burst;         /* DoSCircuitCreationBurst */
  bool conn_enabled;          /* DoSConnectionEnabled */
  int32_t conn_max_concurrent;/* DoSConnectionMaxConcurrentCount */
} ep_dos_params_t;

void ep_dos_params_defaults(ep_dos_params_t *p);
/* From the consensus (NULL: the defaults). */
void ep_dos_params_read(const ep_consensus_t *c, ep_dos_params_t *p);

#endif
