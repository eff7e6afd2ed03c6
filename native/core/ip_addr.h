// An address of either family, for the tables the slow path keeps for both
// (neighbours, gateways, owned routes): IPv4 is held as the IPv4-mapped IPv6
// address ::ffff:a.b.c.d (RFC 4291 2.5.5.2), which never appears on the
// wire, so one 16-byte key orders and hashes both families.
#pragma once

#include <cstdint>
#include <cstring>
#include <string>

#include "fib/trie6.h"

namespace appliance {

struct IpAddr {
    Ipv6Address b{};  // network byte order

    static IpAddr v4(uint32_t host_order) {
        IpAddr a;
        a.b[10] = a.b[11] = 0xff;
        for (int i = 0; i < 4; ++i) a.b[12 + i] = uint8_t(host_order >> (24 - 8 * i));
        return a;
    }
    static IpAddr v6(const uint8_t* bytes) {
        IpAddr a;
        std::memcpy(a.b.data(), bytes, 16);
        return a;
    }
    static IpAddr v6(const Ipv6Address& bytes) { return IpAddr{bytes}; }

    bool is_v4() const {
        static constexpr uint8_t mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
        return std::memcmp(b.data(), mapped, 12) == 0;
    }
    uint32_t to_v4() const {  // host order
        return uint32_t(b[12]) << 24 | uint32_t(b[13]) << 16 | uint32_t(b[14]) << 8 | b[15];
    }
    bool link_local() const { return b[0] == 0xfe && (b[1] & 0xc0) == 0x80; }
    bool operator==(const IpAddr& o) const { return b == o.b; }
    bool operator!=(const IpAddr& o) const { return b != o.b; }
    bool operator<(const IpAddr& o) const { return b < o.b; }
};

std::string format_ip(const IpAddr& a);  // dotted quad or RFC 5952 text

// The first `depth` bits of `a` (the rest zero), and whether two addresses
// share them.
Ipv6Address mask6(const Ipv6Address& a, uint8_t depth);
inline bool same_prefix6(const Ipv6Address& a, const Ipv6Address& b, uint8_t depth) {
    return mask6(a, depth) == mask6(b, depth);
}

}  // namespace appliance
