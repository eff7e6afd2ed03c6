// Stage 4: the forwarding rewrite. New Ethernet addresses from the next hop,
// TTL - 1 and the header checksum patched incrementally, never recomputed
// over the whole header.
#pragma once

#include <cstring>

#include <rte_ether.h>
#include <rte_ip.h>

#include "nexthop/nexthop.h"

namespace appliance {

// RFC 1624 eqn. 3: HC' = ~(~HC + ~m + m'), m the 16-bit word holding TTL and
// protocol. TTL - 1 makes m' = m - 0x0100, so ~m + m' is the constant 0xFEFF
// whatever m is. One's complement sums ignore byte order (RFC 1071 2.B):
// on the header word as loaded little-endian, that constant reads 0xFFFE.
inline uint16_t checksum_after_ttl_decrement(uint16_t checksum) {
    constexpr uint32_t kTtlMinusOne = RTE_BYTE_ORDER == RTE_LITTLE_ENDIAN ? 0xfffe : 0xfeff;
    uint32_t sum = uint32_t(uint16_t(~checksum)) + kTtlMinusOne;
    sum = (sum & 0xffff) + (sum >> 16);
    sum = (sum & 0xffff) + (sum >> 16);
    return uint16_t(~sum);
}

inline void ipv4_rewrite(rte_ether_hdr* eth, rte_ipv4_hdr* ip, const NextHop& hop) {
    // dst and src MAC sit together in NextHop exactly as in the header.
    static_assert(offsetof(NextHop, src) == RTE_ETHER_ADDR_LEN, "NextHop layout");
    std::memcpy(eth, &hop, 2 * RTE_ETHER_ADDR_LEN);
    ip->time_to_live--;
    ip->hdr_checksum = checksum_after_ttl_decrement(ip->hdr_checksum);
}

}  // namespace appliance
