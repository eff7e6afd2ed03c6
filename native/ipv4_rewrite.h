// Stage 4: the forwarding rewrite. New Ethernet addresses from the next hop,
// TTL - 1 and the header checksum patched incrementally (RFC 1624 eqn. 3),
// never recomputed over the whole header.
#pragma once

#include <cstring>

#include <rte_ether.h>
#include <rte_ip.h>

#include "nexthop.h"

namespace appliance {

// HC' = ~(~HC + ~m + m') where m is the 16-bit word holding TTL and protocol.
inline uint16_t checksum_after_ttl_decrement(uint16_t checksum_be, uint16_t old_word_be,
                                             uint16_t new_word_be) {
    uint32_t sum = uint16_t(~rte_be_to_cpu_16(checksum_be)) +
                   uint16_t(~rte_be_to_cpu_16(old_word_be)) + rte_be_to_cpu_16(new_word_be);
    sum = (sum & 0xffff) + (sum >> 16);
    sum = (sum & 0xffff) + (sum >> 16);
    return rte_cpu_to_be_16(uint16_t(~sum));
}

inline void ipv4_rewrite(rte_ether_hdr* eth, rte_ipv4_hdr* ip, const NextHop& hop) {
    // dst and src MAC sit together in NextHop exactly as in the header.
    static_assert(offsetof(NextHop, src) == RTE_ETHER_ADDR_LEN, "NextHop layout");
    std::memcpy(eth, &hop, 2 * RTE_ETHER_ADDR_LEN);
    uint16_t old_word, new_word;
    std::memcpy(&old_word, &ip->time_to_live, 2);
    ip->time_to_live--;
    std::memcpy(&new_word, &ip->time_to_live, 2);
    ip->hdr_checksum = checksum_after_ttl_decrement(ip->hdr_checksum, old_word, new_word);
}

}  // namespace appliance
