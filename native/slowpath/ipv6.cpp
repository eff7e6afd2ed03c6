// IPv6 in the slow path (RFC 8200): what workers punt — link-local and
// link-scope multicast destinations, hop limit <= 1, next hops that do not
// forward, packets over the egress MTU — gets the routing decision a worker
// would make, then what a worker does not: local delivery, neighbour
// resolution, ICMPv6 errors. IPv6 routers never fragment.
#include <rte_hash.h>

#include <cstring>

#include "ip6/ipv6_input.h"
#include "nexthop/ecmp.h"
#include "rules/rule_lookup.h"
#include "slowpath/slowpath.h"

namespace appliance {

namespace {

rte_ipv6_hdr* ip6_of(rte_mbuf* m) {
    return rte_pktmbuf_mtod_offset(m, rte_ipv6_hdr*, sizeof(rte_ether_hdr));
}

// ff02::1:ffXX:XXXX, the solicited-node group of addresses ending XX:XXXX (RFC 4291 2.7.1).
bool solicited_node_of(const uint8_t* group, const Ipv6Address& ip) {
    static constexpr uint8_t head[13] = {0xff, 0x02, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0xff};
    return std::memcmp(group, head, 13) == 0 && std::memcmp(group + 13, ip.data() + 13, 3) == 0;
}

bool all_nodes(const uint8_t* group) {
    static constexpr uint8_t ff02_1[16] = {0xff, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
    return std::memcmp(group, ff02_1, 16) == 0;
}

// ff02::2: a router is in it (router solicitations come to it).
bool all_routers(const uint8_t* group) {
    static constexpr uint8_t ff02_2[16] = {0xff, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2};
    return std::memcmp(group, ff02_2, 16) == 0;
}

}  // namespace

uint32_t SlowPath::lookup6(const rte_mbuf* m, uint16_t in_port) const {
    const auto* ip = rte_pktmbuf_mtod_offset(m, const rte_ipv6_hdr*, sizeof(rte_ether_hdr));
    if (ipv6_link_local(ip->dst_addr)) return first_hop_ + 3 + in_port;  // the port's connected hop
    if (flows6_.active() != 0) {
        const FlowKey6 k = flow_key6(m);
        void* data = nullptr;
        if (rte_hash_lookup_data(flows6_.hash(), &k, &data) >= 0) return rule_hop(data);
    }
    return vrfs_.fib6(vrf_of(in_port)).lookup(IpAddr::v6(ip->dst_addr).b).value_or(kNoRoute);
}

void SlowPath::ipv6_input(rte_mbuf* m, uint16_t in_port) {
    const rte_ipv6_hdr* ip = ip6_of(m);
    const uint8_t* dst = ip->dst_addr;
    const bool group_frame = rte_is_multicast_ether_addr(&rte_pktmbuf_mtod(m, rte_ether_hdr*)->dst_addr);
    if (group_frame && dst[0] != 0xff) return drop(m, DropReason::link_broadcast);  // never routed
    if (dst[0] == 0xff) {  // link-scope: all nodes or routers, or a solicited-node group we are in
        bool joined = all_nodes(dst) || all_routers(dst);
        for (const Address6& a : addresses6_[in_port]) joined = joined || solicited_node_of(dst, a.ip);
        joined = joined || vrrp_solicited(in_port, dst);
        if (joined) return local6_input(m, in_port);
        return drop(m, DropReason::multicast_destination);
    }
    if (ipv6_link_local(dst)) {
        if (is_ours6(in_port, dst) || vrrp_answers(in_port, IpAddr::v6(dst)))
            return local6_input(m, in_port);
        return drop(m, DropReason::link_local);
    }
    ipv6_route(m, in_port, lookup6(m, in_port), false);
}

void SlowPath::ipv6_route(rte_mbuf* m, uint16_t in_port, uint32_t hop_id, bool generated) {
    rte_ipv6_hdr* ip = ip6_of(m);
    const NextHop* hop = hop_id < kRuleDrop ? hops_.get(hop_id) : nullptr;
    if (hop == nullptr) {
        if (generated) return drop_generated(m);
        if (hop_id == kRuleDrop) return drop(m, DropReason::rule_drop);
        if (hop_id != kNoRoute) return drop(m, DropReason::nexthop_down);
        icmp6_error(m, in_port, 1, 0);  // no route to destination
        return drop(m, DropReason::no_route);
    }
    if (hop->action == HopAction::group) {  // one path of several, by the flow's hash
        hop_id = group_member(hops_, hop_id, m);
        hop = hop_id < kRuleDrop ? hops_.get(hop_id) : nullptr;
        if (hop == nullptr) return generated ? drop_generated(m) : drop(m, DropReason::nexthop_down);
    }
    switch (hop->action) {
    case HopAction::drop:
        if (generated) return drop_generated(m);
        // Linux's answers for unreachable and prohibit routes: no route, prohibited.
        if (hop->drop_reason == uint8_t(DropReason::route_unreachable)) icmp6_error(m, in_port, 1, 0);
        if (hop->drop_reason == uint8_t(DropReason::route_prohibited) ||
            hop->drop_reason == uint8_t(DropReason::acl_reject))
            icmp6_error(m, in_port, 1, 1);
        return drop(m, DropReason(hop->drop_reason));
    case HopAction::local:
        if (generated) return drop_generated(m);  // to ourselves: nothing listens
        return local6_input(m, in_port);
    default:
        break;
    }
    if (!generated && get_meta(m).kind != PuntKind::ipv6_checked) {
        if (ipv6_link_local(ip->src_addr)) {  // would leave the link its source is valid on
            icmp6_error(m, in_port, 1, 2);  // beyond scope of source address
            return drop(m, DropReason::link_local);
        }
        if (ip->hop_limits <= 1) {
            icmp6_error(m, in_port, 3, 0);  // hop limit exceeded in transit
            return drop(m, DropReason::ttl_expired);
        }
        PacketMeta meta = get_meta(m);
        meta.kind = PuntKind::ipv6_checked;
        set_meta(m, meta);
    }
    resolve_and_send(m, in_port, hop_id, *hop, IpAddr::v6(ip->dst_addr), generated);
}

// A forward decision, hop limit checked: MTU, rewrite, out through a worker.
void SlowPath::ipv6_send(rte_mbuf* m, const NextHop& hop, bool generated) {
    rte_ipv6_hdr* ip = ip6_of(m);
    if (sizeof(rte_ipv6_hdr) + rte_be_to_cpu_16(ip->payload_len) > hop.mtu) {
        if (generated) return drop_generated(m);
        icmp6_error(m, get_meta(m).port, 2, 0, hop.mtu);  // packet too big (RFC 4443 3.2)
        return drop(m, DropReason::fragmentation_needed);
    }
    auto* eth = rte_pktmbuf_mtod(m, rte_ether_hdr*);
    if (generated) std::memcpy(eth, &hop, 2 * RTE_ETHER_ADDR_LEN);
    else ipv6_rewrite(eth, ip, hop);
    send(m, hop.iface, generated);
}

rte_mbuf* SlowPath::new_ipv6(uint16_t port, const Ipv6Address& src, const Ipv6Address& dst,
                             uint8_t hop_limit, uint16_t payload) {
    rte_mbuf* m = alloc(port);
    char* data = m ? rte_pktmbuf_append(m, uint16_t(sizeof(rte_ether_hdr) + sizeof(rte_ipv6_hdr) + payload))
                   : nullptr;
    if (data == nullptr) {
        if (m) rte_pktmbuf_free(m);
        stats_.generated_dropped++;
        return nullptr;
    }
    auto* eth = reinterpret_cast<rte_ether_hdr*>(data);
    eth->ether_type = RTE_BE16(RTE_ETHER_TYPE_IPV6);
    auto* ip = reinterpret_cast<rte_ipv6_hdr*>(eth + 1);
    ip->vtc_flow = RTE_BE32(6u << 28);
    ip->payload_len = rte_cpu_to_be_16(payload);
    ip->proto = IPPROTO_ICMPV6;
    ip->hop_limits = hop_limit;
    std::memcpy(ip->src_addr, src.data(), 16);
    std::memcpy(ip->dst_addr, dst.data(), 16);
    set_meta(m, {0, port, PuntKind::ipv6_routed, 1});
    return m;
}

}  // namespace appliance
