// Equal-cost multipath: which member of a group next hop a packet takes. A
// hash of the flow (addresses, protocol, and TCP/UDP ports when the packet
// carries them), so every packet of one flow leaves by the same path and
// flows spread over all of them (RFC 2992's hash-threshold, as Linux does).
#pragma once

#include <cstring>

#include <rte_ether.h>
#include <rte_hash_crc.h>
#include <rte_ip.h>
#include <rte_mbuf.h>

#include "nexthop/nexthop.h"
#include "core/punt.h"

namespace appliance {

inline uint32_t flow_hash(const rte_mbuf* m) {
    const auto* eth = rte_pktmbuf_mtod(m, const rte_ether_hdr*);
    const uint32_t len = rte_pktmbuf_data_len(m);
    uint32_t hash = 0;
    const uint8_t* l4 = nullptr;
    uint8_t proto = 0;
    if (eth->ether_type == RTE_BE16(RTE_ETHER_TYPE_IPV6)) {
        const auto* ip = reinterpret_cast<const rte_ipv6_hdr*>(eth + 1);
        proto = ip->proto;
        uint64_t words[4];  // source and destination, copied: they sit at 2-byte alignment
        std::memcpy(words, ip->src_addr, sizeof words);
        hash = proto;
        for (uint64_t w : words) hash = rte_hash_crc_8byte(w, hash);
        if (len >= sizeof(rte_ether_hdr) + sizeof(rte_ipv6_hdr) + 4) l4 = reinterpret_cast<const uint8_t*>(ip + 1);
    } else {
        const auto* ip = reinterpret_cast<const rte_ipv4_hdr*>(eth + 1);
        const uint32_t ihl = uint32_t(ip->version_ihl & 0x0f) * 4;
        proto = ip->next_proto_id;
        hash = rte_hash_crc_4byte(ip->dst_addr, rte_hash_crc_4byte(ip->src_addr, proto));
        const bool first = (ip->fragment_offset & RTE_BE16(RTE_IPV4_HDR_OFFSET_MASK)) == 0;
        if (first && len >= sizeof(rte_ether_hdr) + ihl + 4) l4 = reinterpret_cast<const uint8_t*>(ip) + ihl;
    }
    if (l4 != nullptr && (proto == IPPROTO_TCP || proto == IPPROTO_UDP)) {
        uint32_t ports;
        std::memcpy(&ports, l4, 4);
        hash = rte_hash_crc_4byte(ports, hash);
    }
    return hash;
}

// The member of group `id` this packet takes, or kNoRoute if the group is gone.
inline uint32_t group_member(const NextHopTable& hops, uint32_t id, const rte_mbuf* m) {
    const HopGroup* g = hops.group(id);
    if (g == nullptr || g->size == 0) return kNoRoute;
    return g->members[(uint64_t(flow_hash(m)) * g->size) >> 32];
}

}  // namespace appliance
