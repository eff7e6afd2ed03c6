// VRRPv3 advertisements on the wire (RFC 5798 5): IP protocol 112 to
// 224.0.0.18 or ff02::12, TTL / hop limit 255, from the virtual MAC.
#pragma once

#include <cstdint>
#include <vector>

#include <rte_ether.h>

#include "core/ip_addr.h"

struct rte_ipv4_hdr;
struct rte_ipv6_hdr;

namespace appliance {

constexpr uint8_t kIpProtoVrrp = 112;
constexpr uint32_t kVrrpGroup4 = 0xe0000012;  // 224.0.0.18, host order
const Ipv6Address kVrrpGroup6{0xff, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x12};
constexpr uint32_t kVrrpHeaderLen = 8;  // version/type, VRID, priority, count, interval, checksum

// 00:00:5e:00:01:VRID (IPv4) or 00:00:5e:00:02:VRID (IPv6) (RFC 5798 7.3).
inline rte_ether_addr vrrp_mac(uint8_t vrid, bool v6) {
    return rte_ether_addr{{0x00, 0x00, 0x5e, 0x00, uint8_t(v6 ? 2 : 1), vrid}};
}

struct VrrpAdvert {
    uint8_t vrid = 0;
    uint8_t priority = 0;
    uint16_t interval_cs = 0;
    std::vector<IpAddr> addresses;
};

// Why an advertisement is not taken (counted per reason, RFC 5798 7.1).
enum class VrrpInvalid : uint8_t { none, ttl, version, checksum, length, interval };
const char* vrrp_invalid_name(VrrpInvalid v);

// The message after the IP header (`len` bytes, IPv4 `ip4` or IPv6 `ip6` in front).
VrrpInvalid vrrp_parse4(const rte_ipv4_hdr* ip4, const uint8_t* msg, uint32_t len, VrrpAdvert* out);
VrrpInvalid vrrp_parse6(const rte_ipv6_hdr* ip6, const uint8_t* msg, uint32_t len, VrrpAdvert* out);

uint32_t vrrp_length(const VrrpAdvert& a, bool v6);
// Writes the message at `msg` (vrrp_length() bytes), checksum over `ip4` or `ip6`'s
// pseudo-header: fill the IP header first.
void vrrp_write4(const rte_ipv4_hdr* ip4, const VrrpAdvert& a, uint8_t* msg);
void vrrp_write6(const rte_ipv6_hdr* ip6, const VrrpAdvert& a, uint8_t* msg);

}  // namespace appliance
