// After the routing decision, for both families: a next hop that forwards
// sends at once; one that resolves holds the packet on its neighbour (the
// gateway of a user next hop, else the destination itself) and asks ARP or
// NDP; a neighbour that did not answer earns the sender an error.
#include <arpa/inet.h>

#include "slowpath/slowpath.h"

namespace appliance {

namespace {

bool is_ipv6(const rte_mbuf* m) {
    return rte_pktmbuf_mtod(m, const rte_ether_hdr*)->ether_type == RTE_BE16(RTE_ETHER_TYPE_IPV6);
}

}  // namespace

void SlowPath::resolve_and_send(rte_mbuf* m, uint16_t in_port, uint32_t hop_id,
                                const NextHop& hop, const IpAddr& destination, bool generated) {
    if (hop.action == HopAction::forward) return send_resolved(m, hop, generated);
    auto gw = gateways_.find(hop_id);
    const IpAddr target = gw != gateways_.end() ? gw->second.ip : destination;
    Neighbor* n = neigh_resolve(hop.iface, target);
    if (n == nullptr) {  // the table is full
        if (generated) return drop_generated(m);
        host_unreachable(m, in_port);
        return drop(m, DropReason::neighbor_unreachable);
    }
    if (n->state == NeighState::failed) {
        // Ask again once the last attempt is a full retry cycle old.
        if (now_ms() - n->changed_ms < uint64_t(config_.retrans_ms) * config_.probes) {
            if (generated) return drop_generated(m);
            host_unreachable(m, in_port);
            return drop(m, DropReason::neighbor_unreachable);
        }
        neigh_restart(*n);
    }
    if (n->state == NeighState::incomplete) return neigh_hold(*n, m, generated);
    // Resolved meanwhile (the FIB may just have changed): send with its MAC.
    NextHop resolved = port_hop(n->port, HopAction::forward);
    resolved.dst = n->mac;
    send_resolved(m, resolved, generated);
}

void SlowPath::send_resolved(rte_mbuf* m, const NextHop& hop, bool generated) {
    if (is_ipv6(m)) ipv6_send(m, hop, generated);
    else ipv4_send(m, hop, generated);
}

// Held packets leave in the order they came, through the same decision.
void SlowPath::route_again(rte_mbuf* m) {
    const PacketMeta meta = get_meta(m);
    if (is_ipv6(m)) ipv6_route(m, meta.port, lookup6(m, meta.port), meta.generated != 0);
    else ipv4_route(m, meta.port, lookup(m, meta.port), meta.generated != 0);
}

void SlowPath::host_unreachable(const rte_mbuf* m, uint16_t in_port) {
    if (is_ipv6(m)) icmp6_error(m, in_port, 1, 3);  // address unreachable (RFC 4443 3.1)
    else icmp_error(m, in_port, 3, 1);  // host unreachable (RFC 1812 4.3.3.1)
}

}  // namespace appliance
