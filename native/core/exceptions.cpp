#include "core/exceptions.h"

#include <rte_ring.h>

#include "iface/vlan_stage.h"
#include "nexthop/ecmp.h"
#include "ip4/ipv4_rewrite.h"
#include "ip6/ipv6_input.h"

namespace appliance {

void punt(WorkerContext& w, rte_mbuf* m, PuntKind kind, uint16_t port_index, uint32_t hop) {
    set_meta(m, {hop, port_index, kind, 0});
    // The slow path reads every packet's trace id: one it is handed is this burst's, or none.
    if (unlikely(w.tracing)) trace_note(w, m, TraceStep::punt, uint8_t(kind), hop);
    else set_trace_id(m, 0);
    if (unlikely(rte_ring_sp_enqueue(w.punt, m) != 0)) {
        drop_packet(w, m, DropReason::punt_full, port_index);
        return;
    }
    w.stats->punted++;
}

void punt_for_error(WorkerContext& w, rte_mbuf* m, DropReason why, uint16_t port_index,
                    uint32_t hop, PuntKind kind) {
    if (w.icmp_budget.take(rte_rdtsc())) {
        punt(w, m, kind, port_index, hop);
        return;
    }
    drop_packet(w, m, why, port_index);
}

// One path of an equal-cost group: forwarded here when it can be, else
// whatever its own next hop says (it is never a group itself).
void output_member(WorkerContext& w, rte_mbuf* m, uint16_t in_port, uint32_t id, PuntKind routed) {
    if (unlikely(w.tracing)) trace_hop(w, m, TraceStep::member, id);
    const NextHop* hop = id < kRuleDrop ? w.tables.hops->get(id) : nullptr;
    auto* eth = rte_pktmbuf_mtod(m, rte_ether_hdr*);
    const bool v6 = routed == PuntKind::ipv6_routed;
    const uint32_t length = v6 ? sizeof(rte_ipv6_hdr) + rte_be_to_cpu_16(reinterpret_cast<rte_ipv6_hdr*>(eth + 1)->payload_len)
                               : rte_be_to_cpu_16(reinterpret_cast<rte_ipv4_hdr*>(eth + 1)->total_length);
    if (hop == nullptr || hop->action != HopAction::forward || length > hop->mtu)
        return output_exception(w, m, in_port, id, hop, routed);
    void* ip = eth + 1;
    TaggedTx tagged(w);
    if (hop->vlan != 0 && (eth = tagged.push(m, *hop)) == nullptr) return;
    if (v6) ipv6_rewrite(eth, static_cast<rte_ipv6_hdr*>(ip), *hop);
    else ipv4_rewrite(eth, static_cast<rte_ipv4_hdr*>(ip), *hop);
    TxBatch& tx = w.tx[hop->tx_port];
    tx.pkts[tx.n++] = m;
}

void output_exception(WorkerContext& w, rte_mbuf* m, uint16_t in_port, uint32_t id,
                      const NextHop* hop, PuntKind routed) {
    if (hop == nullptr) {
        if (id == kNoRoute) return punt_for_error(w, m, DropReason::no_route, in_port, id, routed);
        drop_packet(w, m, id == kRuleDrop ? DropReason::rule_drop : DropReason::nexthop_down, in_port);
        return;
    }
    switch (hop->action) {
    case HopAction::drop:
        if (hop->drop_reason == uint8_t(DropReason::route_unreachable) ||
            hop->drop_reason == uint8_t(DropReason::route_prohibited) ||  // ICMP, as Linux
            hop->drop_reason == uint8_t(DropReason::acl_reject))
            return punt_for_error(w, m, DropReason(hop->drop_reason), in_port, id, routed);
        drop_packet(w, m, DropReason(hop->drop_reason), in_port);
        return;
    case HopAction::local:
    case HopAction::resolve:
        return punt(w, m, routed, in_port, id);
    case HopAction::unreachable:
        return punt_for_error(w, m, DropReason::neighbor_unreachable, in_port, id, routed);
    case HopAction::group:
        return output_member(w, m, in_port, group_member(*w.tables.hops, id, m), routed);
    case HopAction::forward:
        break;
    }
    // Over the egress MTU: IPv6 and IPv4 with DF earn an ICMP error; IPv4
    // without DF is fragmented.
    const auto* ip = rte_pktmbuf_mtod_offset(m, const rte_ipv4_hdr*, sizeof(rte_ether_hdr));
    if (routed == PuntKind::ipv6_routed || (ip->fragment_offset & RTE_BE16(RTE_IPV4_HDR_DF_FLAG)))
        return punt_for_error(w, m, DropReason::fragmentation_needed, in_port, id, routed);
    punt(w, m, routed, in_port, id);
}

}  // namespace appliance
