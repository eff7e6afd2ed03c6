// The fast path's two VLAN steps: on input (ports with sub-interfaces only),
// each frame's interface from its tag; on output, the tag of the next hop's
// sub-interface.
#pragma once

#include "core/worker.h"
#include "iface/vlan_tag.h"

namespace appliance {

// The first stage on a port with sub-interfaces: each frame's interface from
// its tag (none, or a priority tag: the port's own), the tag taken off, and
// the burst split by interface so that every later stage sees one interface
// (its ACLs, its addresses for the slow path). Frames of VLANs the port has
// no sub-interface for are dropped: unknown_vlan.
void vlan_stage(WorkerContext& w, const RxQueue& q, rte_mbuf** pkts, uint16_t n, StageClock& clock);

// A routed frame leaving by a sub-interface: tagged and counted there. False:
// it could not be tagged, and it is dropped and counted.
inline bool vlan_output(WorkerContext& w, rte_mbuf* m, const NextHop& hop) {
    if (unlikely(!vlan_push(m, hop.vlan))) {
        w.stats->count_drop(DropReason::malformed);
        rte_pktmbuf_free(m);
        return false;
    }
    IfaceCounters& c = w.ifaces[hop.iface];
    c.tx_packets++;
    c.tx_bytes += rte_pktmbuf_pkt_len(m);
    return true;
}

// Queues a rewritten frame on its next hop's port (tagged for a sub-interface).
inline void queue_tx(WorkerContext& w, rte_mbuf* m, const NextHop& hop) {
    if (hop.vlan != 0 && !vlan_output(w, m, hop)) return;
    TxBatch& tx = w.tx[hop.tx_port];
    tx.pkts[tx.n++] = m;
}

}  // namespace appliance
