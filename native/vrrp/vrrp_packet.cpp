#include "vrrp/vrrp_packet.h"

#include <cstring>

#include <rte_ip.h>

namespace appliance {

namespace {

constexpr uint8_t kVersionType = 0x31;  // version 3, type 1 (ADVERTISEMENT)

uint16_t fold(uint32_t sum) {
    sum = (sum & 0xffff) + (sum >> 16);
    return uint16_t((sum & 0xffff) + (sum >> 16));
}

// RFC 5798 5.2.8: over the message and the pseudo-header of the IP header
// in front (RFC 2460 8.1 for IPv6; its IPv4 counterpart for IPv4).
uint16_t sum4(const rte_ipv4_hdr* ip, const uint8_t* msg, uint32_t len) {
    return fold(uint32_t(rte_ipv4_phdr_cksum(ip, 0)) + rte_raw_cksum(msg, len));
}
uint16_t sum6(const rte_ipv6_hdr* ip, const uint8_t* msg, uint32_t len) {
    return fold(uint32_t(rte_ipv6_phdr_cksum(ip, 0)) + rte_raw_cksum(msg, len));
}

VrrpInvalid parse(const uint8_t* msg, uint32_t len, bool v6, uint16_t sum, VrrpAdvert* out) {
    if (len < kVrrpHeaderLen) return VrrpInvalid::length;
    if (msg[0] != kVersionType) return VrrpInvalid::version;
    if (sum != 0xffff) return VrrpInvalid::checksum;
    const uint32_t each = v6 ? 16 : 4;
    if (len < kVrrpHeaderLen + msg[3] * each) return VrrpInvalid::length;
    out->vrid = msg[1];
    out->priority = msg[2];
    out->interval_cs = uint16_t((msg[4] & 0x0f) << 8 | msg[5]);
    if (out->interval_cs == 0) return VrrpInvalid::interval;
    out->addresses.clear();
    for (unsigned i = 0; i < msg[3]; ++i) {
        const uint8_t* a = msg + kVrrpHeaderLen + i * each;
        if (v6) {
            out->addresses.push_back(IpAddr::v6(a));
        } else {
            out->addresses.push_back(IpAddr::v4(uint32_t(a[0]) << 24 | uint32_t(a[1]) << 16 |
                                                uint32_t(a[2]) << 8 | a[3]));
        }
    }
    return VrrpInvalid::none;
}

void write(const VrrpAdvert& a, bool v6, uint8_t* msg) {
    msg[0] = kVersionType;
    msg[1] = a.vrid;
    msg[2] = a.priority;
    msg[3] = uint8_t(a.addresses.size());
    msg[4] = uint8_t(a.interval_cs >> 8 & 0x0f);
    msg[5] = uint8_t(a.interval_cs);
    msg[6] = msg[7] = 0;
    uint8_t* at = msg + kVrrpHeaderLen;
    for (const IpAddr& ip : a.addresses) {
        const unsigned n = v6 ? 16 : 4;
        std::memcpy(at, ip.b.data() + 16 - n, n);
        at += n;
    }
}

}  // namespace

const char* vrrp_invalid_name(VrrpInvalid v) {
    switch (v) {
    case VrrpInvalid::none: return "none";
    case VrrpInvalid::ttl: return "TTL or hop limit not 255";
    case VrrpInvalid::version: return "not a VRRPv3 advertisement";
    case VrrpInvalid::checksum: return "bad checksum";
    case VrrpInvalid::length: return "too short for its addresses";
    case VrrpInvalid::interval: return "advertisement interval 0";
    }
    return "?";
}

VrrpInvalid vrrp_parse4(const rte_ipv4_hdr* ip, const uint8_t* msg, uint32_t len, VrrpAdvert* out) {
    if (ip->time_to_live != 255) return VrrpInvalid::ttl;
    return parse(msg, len, false, len >= kVrrpHeaderLen ? sum4(ip, msg, len) : 0, out);
}

VrrpInvalid vrrp_parse6(const rte_ipv6_hdr* ip, const uint8_t* msg, uint32_t len, VrrpAdvert* out) {
    if (ip->hop_limits != 255) return VrrpInvalid::ttl;
    return parse(msg, len, true, len >= kVrrpHeaderLen ? sum6(ip, msg, len) : 0, out);
}

uint32_t vrrp_length(const VrrpAdvert& a, bool v6) {
    return kVrrpHeaderLen + uint32_t(a.addresses.size()) * (v6 ? 16 : 4);
}

void vrrp_write4(const rte_ipv4_hdr* ip, const VrrpAdvert& a, uint8_t* msg) {
    write(a, false, msg);
    const uint32_t len = vrrp_length(a, false);
    const uint16_t sum = uint16_t(~sum4(ip, msg, len));
    std::memcpy(msg + 6, &sum, 2);
}

void vrrp_write6(const rte_ipv6_hdr* ip, const VrrpAdvert& a, uint8_t* msg) {
    write(a, true, msg);
    const uint32_t len = vrrp_length(a, true);
    const uint16_t sum = uint16_t(~sum6(ip, msg, len));
    std::memcpy(msg + 6, &sum, 2);
}

}  // namespace appliance
