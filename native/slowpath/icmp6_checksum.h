// The ICMPv6 checksum (RFC 4443 2.3): the one's complement sum over the
// IPv6 pseudo-header (RFC 8200 8.1) and the ICMPv6 message. The message
// follows the IPv6 header directly (no extension headers here), so the
// header's payload length and next header are the pseudo-header's.
#pragma once

#include <rte_ip.h>

namespace appliance {

inline uint32_t icmp6_sum(const rte_ipv6_hdr* ip, const void* icmp, uint32_t len) {
    uint32_t sum = uint32_t(rte_ipv6_phdr_cksum(ip, 0)) + rte_raw_cksum(icmp, len);
    sum = (sum & 0xffff) + (sum >> 16);
    return (sum & 0xffff) + (sum >> 16);
}

// To store in a message whose checksum field is zero.
inline uint16_t icmp6_checksum(const rte_ipv6_hdr* ip, const void* icmp, uint32_t len) {
    return uint16_t(~icmp6_sum(ip, icmp, len));
}

// A received message is intact when everything, checksum included, sums to all ones.
inline bool icmp6_checksum_ok(const rte_ipv6_hdr* ip, const void* icmp, uint32_t len) {
    return icmp6_sum(ip, icmp, len) == 0xffff;
}

}  // namespace appliance
