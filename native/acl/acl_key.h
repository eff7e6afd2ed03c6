// What rte_acl classifies a packet by. Most packets are classified in place,
// as l3fwd's ACL mode does: the input is the IP header itself, read at fixed
// offsets (ACL_LAYOUTS in classifier.cpp), so a packet costs a pointer, not a
// key. That needs the header where the offsets expect it and a whole L4
// header; the rest takes one of two slower ways:
// - a complete packet whose L4 header is elsewhere (IPv4 options, IPv6
//   extension headers) is copied into a canonical header of the same shape;
// - a packet without an L4 header to read (a non-first fragment, or one cut
//   short) is keyed for the partial context: protocol, addresses, DSCP and
//   whether it is a non-first fragment, the only things it can be matched by.
// All input is in network byte order, as rte_acl reads it.
#pragma once

#include <cstdint>
#include <cstring>

#include <rte_byteorder.h>
#include <rte_ether.h>
#include <rte_ip.h>
#include <rte_mbuf.h>

#include "ip6/ext_headers.h"

namespace appliance {

constexpr uint8_t kAclNonFirstFragment = 1;  // AclPartialKey*.frag

// Bytes of L4 header an in-place classification reads: the ports (ICMP's
// type and code), and up to TCP's flags when an entry matches them.
constexpr uint32_t kAclL4Ports = 4;
constexpr uint32_t kAclL4TcpFlags = 14;

// A canonical header: the IP header without options or extension headers,
// then the first 16 bytes of the L4 header (zeros past its end).
struct AclCanonical4 {
    uint8_t ip[sizeof(rte_ipv4_hdr)];
    uint8_t l4[16];
};
struct AclCanonical6 {
    uint8_t ip[sizeof(rte_ipv6_hdr)];
    uint8_t l4[16];
};

struct AclPartialKey4 {
    uint8_t proto, pad0[3];
    uint8_t frag, dscp, pad1[2];
    uint32_t src, dst;
};
struct AclPartialKey6 {
    uint8_t proto, pad0[3];
    uint8_t frag, dscp, pad1[2];
    uint8_t src[16], dst[16];
};

inline const rte_ipv4_hdr* acl_ipv4(const rte_mbuf* m) {
    return rte_pktmbuf_mtod_offset(m, const rte_ipv4_hdr*, sizeof(rte_ether_hdr));
}
inline const rte_ipv6_hdr* acl_ipv6(const rte_mbuf* m) {
    return rte_pktmbuf_mtod_offset(m, const rte_ipv6_hdr*, sizeof(rte_ether_hdr));
}

// Bytes of the packet's first segment from `from` to the IP packet's end.
inline uint32_t acl_room(const rte_mbuf* m, const uint8_t* from, uint32_t ip_length) {
    const uint32_t at = uint32_t(from - rte_pktmbuf_mtod(m, const uint8_t*));
    const uint32_t end = RTE_MIN(uint32_t(rte_pktmbuf_data_len(m)), uint32_t(sizeof(rte_ether_hdr)) + ip_length);
    return at < end ? end - at : 0;
}

// The L4 bytes a classification needs: the ports, and TCP's flags when the
// ACL matches them.
inline uint32_t acl_l4_needed(uint8_t proto, bool tcp_flags) {
    return tcp_flags && proto == IPPROTO_TCP ? kAclL4TcpFlags : kAclL4Ports;
}

inline bool acl_extension_header(uint8_t proto) {
    return proto == IPPROTO_HOPOPTS || proto == IPPROTO_ROUTING || proto == IPPROTO_FRAGMENT ||
           proto == IPPROTO_DSTOPTS;
}

// How a packet is classified.
enum class AclPath : uint8_t { in_place, canonical, partial };

// The common case in one test with few branches: a first fragment or none,
// no options, and the L4 bytes the layout reads within the packet and its
// first segment. Anything else gets acl_path4()'s exact answer.
inline bool acl_in_place4(const rte_mbuf* m, bool tcp_flags) {
    const rte_ipv4_hdr* ip = acl_ipv4(m);
    const uint32_t need = sizeof(rte_ipv4_hdr) + (tcp_flags ? kAclL4TcpFlags : kAclL4Ports);
    return ((ip->fragment_offset & RTE_BE16(RTE_IPV4_HDR_OFFSET_MASK)) == 0) &
           (ip->version_ihl == 0x45) & (rte_be_to_cpu_16(ip->total_length) >= need) &
           (rte_pktmbuf_data_len(m) >= sizeof(rte_ether_hdr) + need);
}

inline bool acl_in_place6(const rte_mbuf* m, bool tcp_flags) {
    const rte_ipv6_hdr* ip = acl_ipv6(m);
    const uint32_t need = tcp_flags ? kAclL4TcpFlags : kAclL4Ports;
    return !acl_extension_header(ip->proto) & (rte_be_to_cpu_16(ip->payload_len) >= need) &
           (rte_pktmbuf_data_len(m) >= sizeof(rte_ether_hdr) + sizeof(rte_ipv6_hdr) + need);
}

// IPv4 (input checks passed: the header is whole, in the first segment).
inline AclPath acl_path4(const rte_mbuf* m, bool tcp_flags) {
    const rte_ipv4_hdr* ip = acl_ipv4(m);
    if (ip->fragment_offset & RTE_BE16(RTE_IPV4_HDR_OFFSET_MASK)) return AclPath::partial;
    const uint32_t ihl = rte_ipv4_hdr_len(ip);
    const uint32_t length = rte_be_to_cpu_16(ip->total_length);
    const uint32_t have = RTE_MIN(length, uint32_t(rte_pktmbuf_data_len(m)) - uint32_t(sizeof(rte_ether_hdr)));
    if (have < ihl + acl_l4_needed(ip->next_proto_id, tcp_flags)) return AclPath::partial;
    return ihl == sizeof(rte_ipv4_hdr) ? AclPath::in_place : AclPath::canonical;
}

inline void acl_canonical4(const rte_mbuf* m, AclCanonical4& c) {
    const rte_ipv4_hdr* ip = acl_ipv4(m);
    std::memcpy(c.ip, ip, sizeof c.ip);
    const auto* l4 = reinterpret_cast<const uint8_t*>(ip) + rte_ipv4_hdr_len(ip);
    const uint32_t room = acl_room(m, l4, rte_be_to_cpu_16(ip->total_length));
    std::memset(c.l4, 0, sizeof c.l4);
    std::memcpy(c.l4, l4, RTE_MIN(room, uint32_t(sizeof c.l4)));
}

inline void acl_partial4(const rte_mbuf* m, AclPartialKey4& k) {
    const rte_ipv4_hdr* ip = acl_ipv4(m);
    std::memset(&k, 0, sizeof k);
    k.proto = ip->next_proto_id;
    k.frag = (ip->fragment_offset & RTE_BE16(RTE_IPV4_HDR_OFFSET_MASK)) ? kAclNonFirstFragment : 0;
    k.dscp = ip->type_of_service >> 2;
    k.src = ip->src_addr;
    k.dst = ip->dst_addr;
}

inline uint32_t acl_ipv6_length(const rte_ipv6_hdr* ip) {
    return uint32_t(sizeof(rte_ipv6_hdr)) + rte_be_to_cpu_16(ip->payload_len);
}

inline UpperLayer acl_upper6(const rte_mbuf* m) {
    const rte_ipv6_hdr* ip = acl_ipv6(m);
    const auto* after = reinterpret_cast<const uint8_t*>(ip + 1);
    return ipv6_upper_layer(after, ip->proto, acl_room(m, after, acl_ipv6_length(ip)));
}

inline AclPath acl_path6(const rte_mbuf* m, bool tcp_flags) {
    const rte_ipv6_hdr* ip = acl_ipv6(m);
    const auto* after = reinterpret_cast<const uint8_t*>(ip + 1);
    if (!acl_extension_header(ip->proto))
        return acl_room(m, after, acl_ipv6_length(ip)) >= acl_l4_needed(ip->proto, tcp_flags)
                   ? AclPath::in_place : AclPath::partial;
    const UpperLayer u = acl_upper6(m);
    if (u.non_first || acl_extension_header(u.proto)) return AclPath::partial;
    const uint32_t room = acl_room(m, after + u.offset, acl_ipv6_length(ip));
    return room >= acl_l4_needed(u.proto, tcp_flags) ? AclPath::canonical : AclPath::partial;
}

inline void acl_canonical6(const rte_mbuf* m, AclCanonical6& c) {
    const rte_ipv6_hdr* ip = acl_ipv6(m);
    const UpperLayer u = acl_upper6(m);
    std::memcpy(c.ip, ip, sizeof c.ip);
    c.ip[offsetof(rte_ipv6_hdr, proto)] = u.proto;
    const auto* l4 = reinterpret_cast<const uint8_t*>(ip + 1) + u.offset;
    const uint32_t room = acl_room(m, l4, acl_ipv6_length(ip));
    std::memset(c.l4, 0, sizeof c.l4);
    std::memcpy(c.l4, l4, RTE_MIN(room, uint32_t(sizeof c.l4)));
}

inline void acl_partial6(const rte_mbuf* m, AclPartialKey6& k) {
    const rte_ipv6_hdr* ip = acl_ipv6(m);
    std::memset(&k, 0, sizeof k);
    const UpperLayer u = acl_upper6(m);
    k.proto = u.proto;
    k.frag = u.non_first ? kAclNonFirstFragment : 0;
    k.dscp = uint8_t(rte_be_to_cpu_32(ip->vtc_flow) >> 22) & 0x3f;
    std::memcpy(k.src, ip->src_addr, 16);
    std::memcpy(k.dst, ip->dst_addr, 16);
}

}  // namespace appliance
