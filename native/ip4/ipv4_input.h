// Stage 1: Ethernet/IPv4 input checks of RFC 1812 sections 5.2.2, 5.3.4 and
// 5.3.7. A packet passes, goes to the slow path, or gets the reason it is
// dropped. TTL <= 1 goes to the slow path: a packet for us may have TTL 1.
#pragma once

#include <cstring>

#include <rte_ether.h>
#include <rte_ip.h>
#include <rte_mbuf.h>

#include "core/drop_reasons.h"
#include "rules/flow.h"
#include "vrrp/vrrp_macs.h"

namespace appliance {

constexpr unsigned kIpv4Pass = ~0u;  // not a DropReason: the packet goes on

// True when the header's one's complement sum is 0xffff (RFC 1071). The
// common 20-byte header is five 32-bit adds, not rte_raw_cksum's loop.
inline bool ipv4_checksum_ok(const rte_ipv4_hdr* ip, uint32_t ihl) {
    if (ihl != sizeof(rte_ipv4_hdr)) return rte_raw_cksum(ip, ihl) == 0xffff;
    // Two 64-bit words and one 32-bit word, added with end-around carry.
    uint64_t a, b;
    uint32_t c;
    std::memcpy(&a, ip, 8);
    std::memcpy(&b, reinterpret_cast<const uint8_t*>(ip) + 8, 8);
    std::memcpy(&c, reinterpret_cast<const uint8_t*>(ip) + 16, 4);
    uint64_t sum;
    bool carry = __builtin_add_overflow(a, b, &sum);
    sum += carry;  // cannot overflow again: a + b - 2^64 < 2^64 - 1
    carry = __builtin_add_overflow(sum, uint64_t(c), &sum);
    sum += carry;
    sum = (sum & 0xffffffff) + (sum >> 32);
    sum = (sum & 0xffffffff) + (sum >> 32);
    sum = (sum & 0xffff) + (sum >> 16);
    sum = (sum & 0xffff) + (sum >> 16);
    return sum == 0xffff;
}

// Sources a router never forwards from (RFC 1812 5.3.7): 0/8, 127/8, 224/4
// (multicast), 240/4 (reserved and 255.255.255.255), by first octet.
struct MartianOctets {
    bool is[256] = {};
    constexpr MartianOctets() {
        is[0] = is[127] = true;
        for (unsigned o = 224; o < 256; ++o) is[o] = true;
    }
};
inline constexpr MartianOctets kMartianFirstOctet{};

inline bool martian_source(uint32_t src_be) {
    // Network order: the first octet is the low byte. One table load.
    return kMartianFirstOctet.is[uint8_t(src_be)];
}

// The frame's destination MAC as a number comparable with RxQueue::mac.
inline uint64_t dst_mac48(const rte_ether_hdr* eth) {
    uint64_t v;
    std::memcpy(&v, eth, sizeof v);  // dst + 2 bytes of src: frames are >= 14 bytes
    return v & 0xffffffffffffull;
}

inline uint64_t mac48(const rte_ether_addr& mac) {
    uint64_t v = 0;
    std::memcpy(&v, mac.addr_bytes, RTE_ETHER_ADDR_LEN);
    return v;
}

// Not drop reasons either: the packet goes to the slow path.
constexpr unsigned kPuntArp = ~1u;
constexpr unsigned kPuntIpv4 = ~2u;
constexpr unsigned kPuntTtl = ~3u;  // TTL <= 1: for us (answered) or expired (ICMP)
constexpr unsigned kIpv6 = ~4u;     // IPv6 for this port: forward6_burst() takes it
constexpr unsigned kPuntIpv6 = ~5u; // IPv6 to a link-scope group we may be in
constexpr unsigned kPuntKernel = ~6u;  // link-local multicast for the port's kernel interface

// The exact verdict for a frame the common-case test refused: pass (to the
// lookup), punt, or the reason it is dropped. `port_mac` as RxQueue::mac;
// `kernel`: link-local multicast goes to the slow path: VRRP for its virtual
// routers, the rest (OSPF, RIP, OSPFv3) to the routing daemons on the
// interface's kernel interface.
// `vrrp`: the interface's VRRP masters, whose virtual MACs are the port's too.
inline unsigned ipv4_input(rte_mbuf* m, bool verify_checksum, uint64_t port_mac, bool kernel,
                           const VrrpMacs* vrrp) {
    const uint32_t seg_len = rte_pktmbuf_data_len(m);
    if (seg_len < sizeof(rte_ether_hdr)) return unsigned(DropReason::malformed);
    auto* eth = rte_pktmbuf_mtod(m, rte_ether_hdr*);
    const uint64_t dst = dst_mac48(eth);
    const bool for_us = dst == port_mac || (vrrp != nullptr && vrrp_mac_taken(*vrrp, dst));
    const bool group = !for_us && rte_is_multicast_ether_addr(&eth->dst_addr);
    if (eth->ether_type == RTE_BE16(RTE_ETHER_TYPE_ARP)) {
        if (for_us || rte_is_broadcast_ether_addr(&eth->dst_addr)) return kPuntArp;
        return unsigned(group ? DropReason::link_broadcast : DropReason::other_host);
    }
    if (eth->ether_type == RTE_BE16(RTE_ETHER_TYPE_IPV6)) {
        if (for_us) return kIpv6;
        // All nodes and all routers (33:33:00:00:00:01, :02) and solicited-node
        // groups (33:33:ff:...): neighbour and router discovery, for the slow path to sort.
        const uint8_t* d = eth->dst_addr.addr_bytes;
        if (d[0] == 0x33 && d[1] == 0x33 &&
            (d[2] == 0xff || (d[2] == 0 && d[3] == 0 && d[4] == 0 && (d[5] == 1 || d[5] == 2))))
            return kPuntIpv6;
        if (kernel && d[0] == 0x33 && d[1] == 0x33) return kPuntKernel;
        return unsigned(group ? DropReason::link_broadcast : DropReason::other_host);
    }
    if (!for_us && eth->ether_type != RTE_BE16(RTE_ETHER_TYPE_IPV4))  // the MAC test first
        return unsigned(group ? DropReason::link_broadcast : DropReason::other_host);
    if (eth->ether_type == RTE_BE16(RTE_ETHER_TYPE_VLAN) || eth->ether_type == RTE_BE16(RTE_ETHER_TYPE_QINQ))
        return unsigned(DropReason::unknown_vlan);  // (a port with sub-interfaces took its own off)
    if (eth->ether_type != RTE_BE16(RTE_ETHER_TYPE_IPV4)) return unsigned(DropReason::not_ipv4);
    if (!for_us) {
        // 01:00:5e:00:00:xx carries 224.0.0.0/24, multicast that never leaves the link.
        const uint8_t* d = eth->dst_addr.addr_bytes;
        if (kernel && d[0] == 0x01 && d[1] == 0x00 && d[2] == 0x5e && d[3] == 0 && d[4] == 0)
            return kPuntKernel;
        return unsigned(group ? DropReason::link_broadcast : DropReason::other_host);
    }
    if (seg_len < sizeof(rte_ether_hdr) + sizeof(rte_ipv4_hdr))
        return unsigned(DropReason::malformed);

    auto* ip = reinterpret_cast<rte_ipv4_hdr*>(eth + 1);
    uint32_t ihl = sizeof(rte_ipv4_hdr);
    if (unlikely(ip->version_ihl != 0x45)) {  // options, or not IPv4 at all
        ihl = uint32_t(ip->version_ihl & 0x0f) * 4;
        if ((ip->version_ihl >> 4) != 4 || ihl < sizeof(rte_ipv4_hdr) ||
            sizeof(rte_ether_hdr) + ihl > seg_len)
            return unsigned(DropReason::malformed);
    }
    // __builtin_bswap16, not rte_be_to_cpu_16: DPDK's is inline asm the
    // compiler cannot schedule or fold.
    const uint32_t total = __builtin_bswap16(ip->total_length);
    if (total < ihl || sizeof(rte_ether_hdr) + total > rte_pktmbuf_pkt_len(m))
        return unsigned(DropReason::malformed);

    if (verify_checksum) {
        const uint64_t flags = m->ol_flags & RTE_MBUF_F_RX_IP_CKSUM_MASK;
        if (flags == RTE_MBUF_F_RX_IP_CKSUM_BAD) return unsigned(DropReason::bad_checksum);
        // The device did not check it (vdevs never do): the header must sum to 0xffff.
        if (flags != RTE_MBUF_F_RX_IP_CKSUM_GOOD && !ipv4_checksum_ok(ip, ihl))
            return unsigned(DropReason::bad_checksum);
    }
    if (martian_source(ip->src_addr)) return unsigned(DropReason::martian_source);
    // Options (Record Route, Timestamp, source routes) are the slow path's.
    if (ihl != sizeof(rte_ipv4_hdr)) return kPuntIpv4;
    // The slow path decides: a ping to us with TTL 1 is answered, not expired.
    if (ip->time_to_live <= 1) return kPuntTtl;
    return kIpv4Pass;
}

// The rule key of an IPv4 packet, network byte order: ports only for first
// fragments (or unfragmented) of TCP/UDP whose datagram and frame hold them.
inline FlowKey flow_key4(const rte_mbuf* m) {
    const auto* ip = rte_pktmbuf_mtod_offset(m, const rte_ipv4_hdr*, sizeof(rte_ether_hdr));
    FlowKey k{ip->src_addr, ip->dst_addr, 0, 0, ip->next_proto_id, {0, 0, 0}};
    const bool first_fragment = (ip->fragment_offset & RTE_BE16(RTE_IPV4_HDR_OFFSET_MASK)) == 0;
    const uint32_t ihl = uint32_t(ip->version_ihl & 0x0f) * 4;
    if (first_fragment && (k.proto == IPPROTO_TCP || k.proto == IPPROTO_UDP) &&
        uint32_t(__builtin_bswap16(ip->total_length)) >= ihl + 4 &&
        rte_pktmbuf_data_len(m) >= sizeof(rte_ether_hdr) + ihl + 4) {
        const auto* l4 = reinterpret_cast<const uint16_t*>(reinterpret_cast<const uint8_t*>(ip) + ihl);
        k.src_port = l4[0];
        k.dst_port = l4[1];
    }
    return k;
}

}  // namespace appliance
