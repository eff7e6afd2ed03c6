#include "iface/vlan_stage.h"

#include <rte_prefetch.h>

namespace appliance {

void vlan_stage(WorkerContext& w, const RxQueue& q, rte_mbuf** pkts, uint16_t n, StageClock& clock) {
    uint16_t iface[kBurstSize];
    uint16_t kept = 0;
    for (uint16_t i = 0; i < n; ++i) rte_prefetch0(rte_pktmbuf_mtod(pkts[i], void*));
    for (uint16_t i = 0; i < n; ++i) {
        rte_mbuf* m = pkts[i];
        const uint32_t wire_bytes = rte_pktmbuf_pkt_len(m);
        uint16_t vlan = 0;
        if (m->ol_flags & RTE_MBUF_F_RX_VLAN_STRIPPED) {  // the NIC took it off
            vlan = m->vlan_tci & 0x0fff;
        } else if (vlan_tagged(rte_pktmbuf_mtod(m, const rte_ether_hdr*))) {
            if (unlikely(rte_pktmbuf_data_len(m) < sizeof(rte_ether_hdr) + sizeof(rte_vlan_hdr))) {
                w.stats->count_drop(DropReason::malformed);
                rte_pktmbuf_free(m);
                continue;
            }
            vlan = vlan_strip(m);
        }
        const uint16_t at = vlan == 0 ? q.port_index : q.vlan_ifaces[vlan];
        if (unlikely(at == kUnknownVlan)) {
            w.stats->count_drop(DropReason::unknown_vlan);
            rte_pktmbuf_free(m);
            continue;
        }
        IfaceCounters& c = w.ifaces[at];
        c.rx_packets++;
        c.rx_bytes += wire_bytes;
        pkts[kept] = m;
        iface[kept++] = at;
    }
    clock.lap(Stage::vlan);

    uint32_t left = kept == 32 ? ~0u : (1u << kept) - 1;  // packets not yet sent on
    bool one = true;
    for (uint16_t i = 1; i < kept; ++i) one &= iface[i] == iface[0];
    if (one) left = 0;
    RxQueue on = q;
    if (one && kept != 0) {  // the common case: one interface in the whole burst
        on.port_index = iface[0];
        on.kernel = w.tables.kernel_ifaces[on.port_index];
        route_burst(w, on, pkts, kept, clock);
    }
    while (left != 0) {  // in order within each interface
        rte_mbuf* group[kBurstSize];
        uint16_t k = 0;
        const unsigned first = unsigned(__builtin_ctz(left));
        on.port_index = iface[first];
        on.kernel = w.tables.kernel_ifaces[on.port_index];
        for (unsigned i = first; i < kept; ++i) {
            if ((left >> i & 1) == 0 || iface[i] != on.port_index) continue;
            group[k++] = pkts[i];
            left &= ~(1u << i);
        }
        route_burst(w, on, group, k, clock);
    }
}

}  // namespace appliance
