// Our IPv6 addresses. Every port has a link-local address from its MAC
// (modified EUI-64, RFC 4291 2.5.1 / RFC 4862), listed as automatic; more
// can be configured, link-local or global. A global address installs its
// local route (ip/128 -> the local next hop) and its subnet's connected
// route (-> the port's "resolve" next hop: NDP for the destination).
// Link-local addresses need no route: workers hand every link-local
// destination to the slow path, which knows the port it came in on.
#include <algorithm>

#include "core/errors.h"
#include "ip6/ipv6_input.h"
#include "slowpath/slowpath.h"

namespace appliance {

Ipv6Address eui64_link_local(const rte_ether_addr& mac) {
    const uint8_t* m = mac.addr_bytes;
    return {0xfe, 0x80, 0, 0, 0, 0, 0, 0, uint8_t(m[0] ^ 0x02), m[1], m[2], 0xff, 0xfe,
            m[3], m[4], m[5]};
}

const Ipv6Address& SlowPath::link_local(uint16_t port) const { return addresses6_[port][0].ip; }

void SlowPath::address6_add(uint16_t port, const Ipv6Address& ip, uint8_t depth, bool automatic) {
    const std::string what = format_prefix6(ip, depth);
    const IpAddr addr = IpAddr::v6(ip);
    if (ip[0] == 0xff || ipv6_unspecified(ip.data()) || ipv6_loopback(ip.data()))
        throw AddressError(what + ": not a usable unicast address");
    const Ipv6Address net = mask6(ip, depth);
    if (!addr.link_local() && depth < 127 && net == ip)
        throw AddressError(what + ": is the subnet-router anycast address (RFC 4291 2.6.1)");
    const uint16_t vrf = vrf_of(port);
    for (uint16_t p = 0; p < addresses6_.size(); ++p)
        for (const Address6& a : addresses6_[p]) {
            if (vrf_of(p) != vrf) continue;  // VRFs may reuse addresses
            if (a.ip == ip && (p == port || !addr.link_local()))
                throw AddressError(what + ": already an address of this router" + in_vrf(vrf));
            if (!addr.link_local() && p != port && a.depth == depth && mask6(a.ip, depth) == net)
                throw AddressError(what + ": subnet " + format_prefix6(net, depth) +
                                   " is already connected on another port" + in_vrf(vrf));
        }
    if (!addr.link_local()) {
        // User routes on exactly these prefixes would be replaced: refuse instead.
        for (const auto& [rip, rdepth] : {std::make_pair(ip, uint8_t(128)), std::make_pair(net, depth)})
            if (!owns_route(vrf, IpAddr::v6(rip), rdepth) && vrfs_.fib6(vrf).get(rip, rdepth))
                throw AddressError(what + ": route " + format_prefix6(rip, rdepth) +
                                   " exists; delete it first");
        route_install(vrf, addr, 128, first_hop_);
        if (depth < 128) route_install(vrf, IpAddr::v6(net), depth, first_hop_ + 3 + port);
    }
    addresses6_[port].push_back({ip, depth, automatic});
    if (thread_.joinable()) unsolicited_na(port, ip);
}

void SlowPath::address6_delete(uint16_t port, const Ipv6Address& ip, uint8_t depth) {
    auto& list = addresses6_[port];
    auto it = std::find_if(list.begin(), list.end(), [&](const Address6& a) {
        return a.ip == ip && a.depth == depth;
    });
    if (it == list.end())
        throw AddressError(format_prefix6(ip, depth) + ": not an address of this port");
    if (it->automatic)
        throw AddressError(format_prefix6(ip, depth) + ": the port's own link-local address "
                           "(from its MAC) cannot be deleted");
    list.erase(it);
    if (!IpAddr::v6(ip).link_local()) {
        route_uninstall(vrf_of(port), IpAddr::v6(ip), 128);
        if (depth < 128) route_uninstall(vrf_of(port), IpAddr::v6(mask6(ip, depth)), depth);
    }
    forget_unconnected(port);
}

bool SlowPath::is_ours6(uint16_t port, const uint8_t* ip) const {
    const bool scoped = ipv6_link_local(ip);
    for (uint16_t p = 0; p < addresses6_.size(); ++p) {
        if ((scoped && p != port) || vrf_of(p) != vrf_of(port)) continue;
        for (const Address6& a : addresses6_[p])
            if (std::equal(a.ip.begin(), a.ip.end(), ip)) return true;
    }
    return false;
}

bool SlowPath::address6_on(uint16_t port, const uint8_t* ip) const {
    for (const Address6& a : addresses6_[port])
        if (std::equal(a.ip.begin(), a.ip.end(), ip)) return true;
    return false;
}

bool SlowPath::connected6(uint16_t port, const Ipv6Address& ip) const {
    for (const Address6& a : addresses6_[port])
        if (!IpAddr::v6(a.ip).link_local() && same_prefix6(a.ip, ip, a.depth)) return true;
    return false;
}

Ipv6Address SlowPath::source6_for(uint16_t port, const Ipv6Address& to) const {
    const auto& mine = addresses6_[port];
    const bool to_link = ipv6_link_local(to.data());
    for (const Address6& a : mine)
        if (IpAddr::v6(a.ip).link_local() == to_link && same_prefix6(a.ip, to, a.depth)) return a.ip;
    if (to_link) return link_local(port);
    for (const Address6& a : mine)
        if (!IpAddr::v6(a.ip).link_local()) return a.ip;
    for (uint16_t p = 0; p < addresses6_.size(); ++p)
        for (const Address6& a : addresses6_[p])
            if (vrf_of(p) == vrf_of(port) && !IpAddr::v6(a.ip).link_local()) return a.ip;
    return link_local(port);
}

}  // namespace appliance
