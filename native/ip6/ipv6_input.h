// IPv6 input checks and rewrite (RFC 8200, RFC 4291), as Linux applies them
// to forwarded packets: the exact verdict for each packet (what is scoped to
// the link goes to the slow path), and the rewrite
// (MACs, hop limit - 1; IPv6 has no header checksum to patch).
#pragma once

#include <cstring>

#include <rte_ip.h>
#include <rte_mbuf.h>

#include "core/drop_reasons.h"
#include "rules/flow.h"
#include "nexthop/nexthop.h"

namespace appliance {

constexpr unsigned kIpv6Pass = ~0u;

inline bool ipv6_unspecified(const uint8_t* a) {
    static constexpr uint8_t zero[16] = {};
    return std::memcmp(a, zero, 16) == 0;
}

inline bool ipv6_loopback(const uint8_t* a) {
    static constexpr uint8_t one[16] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
    return std::memcmp(a, one, 16) == 0;
}

inline bool ipv6_v4mapped(const uint8_t* a) {  // ::ffff:0:0/96, never on the wire (RFC 4291 2.5.5.2)
    static constexpr uint8_t prefix[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    return std::memcmp(a, prefix, 12) == 0;
}

inline bool ipv6_link_local(const uint8_t* a) { return a[0] == 0xfe && (a[1] & 0xc0) == 0x80; }

// Global unicast (2000::/3) at both ends: none of the special ranges below
// can match, so the common case skips their tests.
inline bool ipv6_both_global(const uint8_t* src, const uint8_t* dst) {
    return ((src[0] & 0xe0) == 0x20) & ((dst[0] & 0xe0) == 0x20);
}

// Not drop reasons: the packet goes to the slow path.
constexpr unsigned kIpv6Punt = ~1u;      // link-local or link-scope multicast: the slow path sorts it
constexpr unsigned kIpv6HopLimit = ~2u;  // hop limit <= 1: for us (answered) or expired (ICMPv6)

// Pass (to the lookup), punt, or the reason the packet is dropped. The
// frame is for this port's MAC and EtherType IPv6 (ipv4_input() said so).
inline unsigned ipv6_input(rte_mbuf* m) {
    if (rte_pktmbuf_data_len(m) < sizeof(rte_ether_hdr) + sizeof(rte_ipv6_hdr))
        return unsigned(DropReason::malformed);
    const auto* ip = rte_pktmbuf_mtod_offset(m, const rte_ipv6_hdr*, sizeof(rte_ether_hdr));
    if ((reinterpret_cast<const uint8_t*>(ip)[0] >> 4) != 6) return unsigned(DropReason::malformed);
    const uint32_t payload = __builtin_bswap16(ip->payload_len);
    if (sizeof(rte_ether_hdr) + sizeof(rte_ipv6_hdr) + payload > rte_pktmbuf_pkt_len(m))
        return unsigned(DropReason::malformed);  // a jumbogram (0) is fine: 40 bytes at least
    const uint8_t* src = ip->src_addr;
    const uint8_t* dst = ip->dst_addr;
    if (likely(ipv6_both_global(src, dst))) return ip->hop_limits > 1 ? kIpv6Pass : kIpv6HopLimit;
    if (src[0] == 0xff || ipv6_unspecified(src) || ipv6_loopback(src) || ipv6_v4mapped(src))
        return unsigned(DropReason::martian_source);
    if (dst[0] == 0xff)  // link scope (ff02::1, solicited-node groups) may be for us
        return (dst[1] & 0x0f) == 2 ? kIpv6Punt : unsigned(DropReason::multicast_destination);
    if (ipv6_unspecified(dst) || ipv6_loopback(dst) || ipv6_v4mapped(dst))
        return unsigned(DropReason::martian_destination);
    if (ipv6_link_local(src) || ipv6_link_local(dst)) return kIpv6Punt;
    if (ip->hop_limits <= 1) return kIpv6HopLimit;
    return kIpv6Pass;
}

// The exact-match rule key of an IPv6 packet: addresses, next header, and
// the ports of TCP and UDP that carry them.
inline FlowKey6 flow_key6(const rte_mbuf* m) {
    const auto* ip = rte_pktmbuf_mtod_offset(m, const rte_ipv6_hdr*, sizeof(rte_ether_hdr));
    FlowKey6 k{};
    std::memcpy(k.src_ip, ip->src_addr, 32);  // source and destination, adjacent
    k.proto = ip->proto;
    if ((k.proto == IPPROTO_TCP || k.proto == IPPROTO_UDP) &&
        __builtin_bswap16(ip->payload_len) >= 4 &&
        rte_pktmbuf_data_len(m) >= sizeof(rte_ether_hdr) + sizeof(rte_ipv6_hdr) + 4) {
        const auto* l4 = reinterpret_cast<const uint16_t*>(ip + 1);
        k.src_port = l4[0];
        k.dst_port = l4[1];
    }
    return k;
}

inline void ipv6_rewrite(rte_ether_hdr* eth, rte_ipv6_hdr* ip, const NextHop& hop) {
    static_assert(offsetof(NextHop, src) == RTE_ETHER_ADDR_LEN, "NextHop layout");
    std::memcpy(eth, &hop, 2 * RTE_ETHER_ADDR_LEN);
    ip->hop_limits--;
}

}  // namespace appliance
