// Addresses as users write them ("192.0.2.1", "2001:db8::1/64"), parsed
// into the slow path's types; the error class is the caller's (a next hop's
// gateway is a NextHopError, a neighbour's address a NeighborError).
#pragma once

#include <arpa/inet.h>

#include <string>

#include "core/ip_addr.h"
#include "ip4/ipv4_input.h"
#include "ip6/ipv6_input.h"

namespace appliance {

inline bool is_ipv6_text(const std::string& text) { return text.find(':') != std::string::npos; }

// A host address of either family, refused unless unicast.
template <class Error>
IpAddr parse_unicast(const std::string& text, const std::string& what) {
    if (is_ipv6_text(text)) {
        Ipv6Address a{};
        if (inet_pton(AF_INET6, text.c_str(), a.data()) != 1)
            throw Error(what + " '" + text + "' is not an IPv4 or IPv6 address");
        if (a[0] == 0xff || ipv6_unspecified(a.data()) || ipv6_loopback(a.data()) ||
            ipv6_v4mapped(a.data()))
            throw Error(what + " " + text + " is not a unicast address");
        return IpAddr::v6(a);
    }
    in_addr a{};
    if (inet_pton(AF_INET, text.c_str(), &a) != 1)
        throw Error(what + " '" + text + "' is not an IPv4 or IPv6 address");
    if (martian_source(a.s_addr) || a.s_addr == 0xffffffffu)
        throw Error(what + " " + text + " is not a unicast address");
    return IpAddr::v4(ntohl(a.s_addr));
}

}  // namespace appliance
