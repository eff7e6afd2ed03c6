#include "iface/vlan_stage.h"


namespace appliance {

namespace {

// Counts what one interface received, in one go per burst (per packet, the
// same counters in memory would chain on store forwarding).
void count_rx(WorkerContext& w, uint16_t iface, rte_mbuf* const* pkts, uint16_t n) {
    uint64_t bytes = 0;
    for (uint16_t i = 0; i < n; ++i) bytes += rte_pktmbuf_pkt_len(pkts[i]);
    IfaceCounters& c = w.ifaces[iface];
    c.rx_packets += n;
    c.rx_bytes += bytes + uint64_t(n) * sizeof(rte_vlan_hdr);  // as on the wire, tag included
}

}  // namespace

void vlan_stage(WorkerContext& w, const RxQueue& q, rte_mbuf** pkts, uint16_t n, StageClock& clock) {
    static_assert(kBurstSize <= 32, "one bit per packet of a burst");
    uint16_t iface[kBurstSize];
    uint16_t kept = 0;
    for (uint16_t i = 0; i < n; ++i) {
        rte_mbuf* m = pkts[i];
        uint16_t vlan = 0;
        if (m->ol_flags & RTE_MBUF_F_RX_VLAN_STRIPPED) {  // the NIC took it off
            vlan = m->vlan_tci & 0x0fff;
        } else if (vlan_tagged(rte_pktmbuf_mtod(m, const rte_ether_hdr*))) {
            if (unlikely(rte_pktmbuf_data_len(m) < sizeof(rte_ether_hdr) + sizeof(rte_vlan_hdr))) {
                drop_packet(w, m, DropReason::malformed, q.port_index);
                continue;
            }
            vlan = vlan_strip(m);
        }
        const uint16_t at = vlan == 0 ? q.port_index : q.vlan_ifaces[vlan];
        if (unlikely(at == kUnknownVlan)) {
            drop_packet(w, m, DropReason::unknown_vlan, q.port_index);
            continue;
        }
        pkts[kept] = m;
        iface[kept++] = at;
    }
    clock.lap(Stage::vlan);

    bool one = true;
    for (uint16_t i = 1; i < kept; ++i) one &= iface[i] == iface[0];
    RxQueue on = q;
    if (one) {  // the common case: one interface in the whole burst
        if (kept == 0) return;
        on.port_index = iface[0];
        on.kernel = w.tables.kernel_ifaces[on.port_index];
        if (on.port_index != q.port_index) count_rx(w, on.port_index, pkts, kept);
        route_burst(w, on, pkts, kept, clock);
        return;
    }
    uint32_t left = kept == 32 ? ~0u : (1u << kept) - 1;  // packets not yet sent on
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
        if (on.port_index != q.port_index) count_rx(w, on.port_index, group, k);
        route_burst(w, on, group, k, clock);
    }
}

}  // namespace appliance
