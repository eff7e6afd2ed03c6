// The bytes rte_acl classifies a packet by, one fixed layout per family,
// built from the headers in network byte order as rte_acl wants its input.
// rte_acl reads the first byte alone, then groups of four consecutive bytes
// (one per input index), so the layout is: protocol, then a group of single
// byte fields, then the addresses, then the two L4 ports. ICMP's type and
// code ride in the port fields (as in VPP's ACL plugin).
#pragma once

#include <cstdint>
#include <cstring>

#include <rte_byteorder.h>
#include <rte_ether.h>
#include <rte_ip.h>
#include <rte_mbuf.h>

#include "ip6/ext_headers.h"

namespace appliance {

constexpr uint8_t kAclNonFirstFragment = 1;  // AclKey*.frag

struct AclKey4 {
    uint8_t proto, pad0[3];
    uint8_t tcp_flags, dscp, frag, pad1;
    uint32_t src, dst;
    uint16_t src_port, dst_port;
};
static_assert(sizeof(AclKey4) == 20, "rte_acl field offsets assume this layout");

struct AclKey6 {
    uint8_t proto, pad0[3];
    uint8_t tcp_flags, dscp, frag, pad1;
    uint8_t src[16], dst[16];
    uint16_t src_port, dst_port;
};
static_assert(sizeof(AclKey6) == 44, "rte_acl field offsets assume this layout");

namespace acl_detail {
// Ports (or ICMP type, code) and TCP flags from an L4 header of `room` bytes.
template <class Key>
inline void l4_fields(Key& k, const uint8_t* l4, uint32_t room) {
    switch (k.proto) {
    case IPPROTO_TCP:
        if (room >= 14) k.tcp_flags = l4[13];
        [[fallthrough]];
    case IPPROTO_UDP:
    case IPPROTO_SCTP:
        if (room >= 4) {
            std::memcpy(&k.src_port, l4, 2);
            std::memcpy(&k.dst_port, l4 + 2, 2);
        }
        break;
    case IPPROTO_ICMP:
    case IPPROTO_ICMPV6:
        if (room >= 2) {
            k.src_port = rte_cpu_to_be_16(l4[0]);
            k.dst_port = rte_cpu_to_be_16(l4[1]);
        }
        break;
    default:
        break;
    }
}

// Bytes of the packet's first segment from `from` to the IP packet's end.
inline uint32_t room_after(const rte_mbuf* m, const uint8_t* from, uint32_t ip_end) {
    const uint32_t at = uint32_t(from - rte_pktmbuf_mtod(m, const uint8_t*));
    const uint32_t end = RTE_MIN(uint32_t(rte_pktmbuf_data_len(m)), ip_end);
    return at < end ? end - at : 0;
}
}  // namespace acl_detail

// The input checks ran first: the IPv4 header is whole and in the first segment.
inline void acl_key4(const rte_mbuf* m, AclKey4& k) {
    const auto* ip = rte_pktmbuf_mtod_offset(m, const rte_ipv4_hdr*, sizeof(rte_ether_hdr));
    std::memset(&k, 0, sizeof k);
    k.proto = ip->next_proto_id;
    k.dscp = ip->type_of_service >> 2;
    k.src = ip->src_addr;
    k.dst = ip->dst_addr;
    if (ip->fragment_offset & RTE_BE16(RTE_IPV4_HDR_OFFSET_MASK)) {
        k.frag = kAclNonFirstFragment;
        return;
    }
    const uint8_t* l4 = reinterpret_cast<const uint8_t*>(ip) + rte_ipv4_hdr_len(ip);
    const uint32_t ip_end = sizeof(rte_ether_hdr) + rte_be_to_cpu_16(ip->total_length);
    acl_detail::l4_fields(k, l4, acl_detail::room_after(m, l4, ip_end));
}

// Extension headers are walked to the upper-layer protocol (ext_headers.h);
// past anything else the protocol is the header's own number, ports are 0.
inline void acl_key6(const rte_mbuf* m, AclKey6& k) {
    const auto* ip = rte_pktmbuf_mtod_offset(m, const rte_ipv6_hdr*, sizeof(rte_ether_hdr));
    std::memset(&k, 0, sizeof k);
    const uint32_t flow = rte_be_to_cpu_32(ip->vtc_flow);
    k.dscp = uint8_t(flow >> 22) & 0x3f;
    std::memcpy(k.src, ip->src_addr, 16);
    std::memcpy(k.dst, ip->dst_addr, 16);
    const uint32_t ip_end = sizeof(rte_ether_hdr) + sizeof(rte_ipv6_hdr) + rte_be_to_cpu_16(ip->payload_len);
    const auto* after = reinterpret_cast<const uint8_t*>(ip + 1);
    const UpperLayer upper = ipv6_upper_layer(after, ip->proto, acl_detail::room_after(m, after, ip_end));
    k.proto = upper.proto;
    if (upper.non_first) {
        k.frag = kAclNonFirstFragment;
        return;
    }
    const uint8_t* l4 = after + upper.offset;
    acl_detail::l4_fields(k, l4, acl_detail::room_after(m, l4, ip_end));
}

}  // namespace appliance
