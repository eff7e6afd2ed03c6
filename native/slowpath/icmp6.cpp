// ICMPv6 (RFC 4443): what arrives for our addresses (echo requests,
// neighbour discovery), and errors about packets we could not forward,
// under the same token bucket as ICMP (RFC 4443 2.4 f).
#include <algorithm>
#include <cstring>

#include "slowpath/icmp6_checksum.h"
#include "ip6/ext_headers.h"
#include "ip6/ipv6_input.h"
#include "slowpath/slowpath.h"

namespace appliance {

namespace {

constexpr uint8_t kEchoRequest = 128, kEchoReply = 129, kRouterSolicit = 133,
                  kNeighborSolicit = 135, kNeighborAdvert = 136;
constexpr uint8_t kHopLimit = 64;  // what Linux puts on what it sends
constexpr uint32_t kMinMtu = 1280;  // an error never exceeds it (RFC 4443 2.4 c)

const rte_ipv6_hdr* ip6_of(const rte_mbuf* m) {
    return rte_pktmbuf_mtod_offset(m, const rte_ipv6_hdr*, sizeof(rte_ether_hdr));
}

Ipv6Address addr(const uint8_t* p) { return IpAddr::v6(p).b; }

}  // namespace

void SlowPath::local6_input(rte_mbuf* m, uint16_t in_port) {
    const rte_ipv6_hdr* ip = ip6_of(m);
    const uint32_t len = rte_be_to_cpu_16(ip->payload_len);
    const bool refused = vrrp_refuses(vrf_of(in_port), IpAddr::v6(ip->dst_addr));  // (but ND)
    if (ip->proto != IPPROTO_ICMPV6)
        return refused ? drop(m, DropReason::vrrp_not_accepted) : to_kernel(m, in_port);
    if (len < 4 || rte_pktmbuf_data_len(m) < sizeof(rte_ether_hdr) + sizeof(rte_ipv6_hdr) + len)
        return drop(m, DropReason::malformed);
    const auto* icmp = reinterpret_cast<const uint8_t*>(ip + 1);
    if (!icmp6_checksum_ok(ip, icmp, len)) return drop(m, DropReason::bad_checksum);
    if (icmp[0] == kNeighborSolicit || icmp[0] == kNeighborAdvert) return nd_input(m, in_port);
    if (refused) return drop(m, DropReason::vrrp_not_accepted);
    if (icmp[0] == kRouterSolicit && in_port < ra_.size() && ra_[in_port].enabled)
        return rs_input(m, in_port);
    if (icmp[0] != kEchoRequest || icmp[1] != 0 || len < 8) return to_kernel(m, in_port);
    if (ip->src_addr[0] == 0xff || ipv6_unspecified(ip->src_addr))
        return drop(m, DropReason::martian_source);

    // From the address asked (all-nodes: the one we would pick), back as it came.
    const Ipv6Address from = ip->dst_addr[0] == 0xff ? source6_for(in_port, addr(ip->src_addr))
                                                     : addr(ip->dst_addr);
    rte_mbuf* r = new_ipv6(in_port, from, addr(ip->src_addr), kHopLimit, uint16_t(len));
    if (r == nullptr) return drop(m, DropReason::no_mbuf);
    auto* rip = rte_pktmbuf_mtod_offset(r, rte_ipv6_hdr*, sizeof(rte_ether_hdr));
    rip->vtc_flow = ip->vtc_flow;  // traffic class and flow label as the request's
    auto* ricmp = reinterpret_cast<uint8_t*>(rip + 1);
    std::memcpy(ricmp, icmp, len);  // identifier, sequence and data echoed
    ricmp[0] = kEchoReply;
    ricmp[2] = ricmp[3] = 0;
    const uint16_t sum = icmp6_checksum(rip, ricmp, len);
    std::memcpy(ricmp + 2, &sum, 2);
    stats_.local++;
    stats_.icmp_echo_replies++;
    trace_slow(m, TraceSlow::local);
    rte_pktmbuf_free(m);
    ipv6_route(r, in_port, lookup6(r, in_port), true);
}

// An error about `m` (left untouched) back to its source, quoting as much
// of it as fits in the minimum MTU (RFC 4443 2.4 c). Never about an ICMPv6
// error, nor about packets from an address that cannot be answered or to
// a multicast group (RFC 4443 2.4 e).
void SlowPath::icmp6_error(const rte_mbuf* m, uint16_t in_port, uint8_t type, uint8_t code,
                           uint32_t info) {
    const rte_ipv6_hdr* ip = ip6_of(m);
    const uint8_t* src = ip->src_addr;
    if (src[0] == 0xff || ipv6_unspecified(src) || ipv6_loopback(src) || ipv6_v4mapped(src) ||
        ip->dst_addr[0] == 0xff)
        return;
    const uint32_t have = rte_pktmbuf_data_len(m) - uint32_t(sizeof(rte_ether_hdr));
    const uint32_t room = have > sizeof(rte_ipv6_hdr) ? have - uint32_t(sizeof(rte_ipv6_hdr)) : 0;
    const auto* after = reinterpret_cast<const uint8_t*>(ip + 1);
    const UpperLayer upper = ipv6_upper_layer(after, ip->proto, room);  // behind extension headers too
    if (upper.proto == IPPROTO_ICMPV6 && !upper.non_first &&
        (room <= upper.offset || after[upper.offset] < 128))
        return;  // an error (types 0-127), or too short to tell
    // From the port the error leaves by, as Linux picks its source.
    const Ipv6Address to = addr(src);
    uint32_t back = kNoRoute;
    if (ipv6_link_local(src)) {
        back = first_hop_ + 3 + in_port;
    } else {
        back = vrfs_.fib6(vrf_of(in_port)).lookup(to).value_or(kNoRoute);
        if (back >= kRuleDrop) back = kNoRoute;
    }
    const NextHop* hop = back != kNoRoute ? hops_.get(back) : nullptr;
    const bool leaves = hop && hop->action != HopAction::local && hop->action != HopAction::drop;
    const Ipv6Address from = source6_for(leaves ? hop->iface : in_port, to);
    if (ipv6_link_local(from.data()) && !ipv6_link_local(to.data())) return;  // no address to send from
    if (!icmp_bucket_.take(rte_rdtsc())) {
        stats_.icmp_rate_limited++;
        trace_slow(m, TraceSlow::icmp_limited, type, code);
        return;
    }

    const uint32_t quoted = std::min<uint32_t>(
        std::min<uint32_t>(have, sizeof(rte_ipv6_hdr) + rte_be_to_cpu_16(ip->payload_len)),
        kMinMtu - sizeof(rte_ipv6_hdr) - 8);
    rte_mbuf* e = new_ipv6(in_port, from, to, kHopLimit, uint16_t(8 + quoted));
    if (e == nullptr) return;
    auto* eip = rte_pktmbuf_mtod_offset(e, rte_ipv6_hdr*, sizeof(rte_ether_hdr));
    auto* icmp = reinterpret_cast<uint8_t*>(eip + 1);
    icmp[0] = type;
    icmp[1] = code;
    icmp[2] = icmp[3] = 0;
    const uint32_t info_be = rte_cpu_to_be_32(info);  // MTU (packet too big), pointer, or 0
    std::memcpy(icmp + 4, &info_be, 4);
    std::memcpy(icmp + 8, ip, quoted);
    const uint16_t sum = icmp6_checksum(eip, icmp, 8 + quoted);
    std::memcpy(icmp + 2, &sum, 2);
    if (type == 3) stats_.icmp_time_exceeded++;
    else if (type == 2) stats_.icmp_fragmentation_needed++;
    else stats_.icmp_unreachable++;
    trace_slow(m, TraceSlow::icmp_error, type, code);
    set_meta(e, {0, in_port, PuntKind::ipv6_routed, 1});
    ipv6_route(e, in_port, hop != nullptr ? back : kNoRoute, true);
}

}  // namespace appliance
