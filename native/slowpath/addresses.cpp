// Our IPv4 addresses, and the routes the slow path owns in both tables.
// Each IPv4 address installs a local route (ip/32 -> the local next hop,
// answered by the slow path), its subnet's connected route (-> the port's
// "resolve" next hop: ARP for the destination) and, below /31, the subnet
// broadcast as a martian destination (directed broadcasts are not
// forwarded, as on Linux). Owned routes are refcounted: two addresses in
// one subnet share its connected route.
#include <algorithm>

#include "core/errors.h"
#include "slowpath/slowpath.h"

namespace appliance {

namespace {

uint32_t mask_of(uint8_t depth) { return depth == 0 ? 0 : ~uint32_t(0) << (32 - depth); }

std::string format_prefix_of(const IpAddr& ip, uint8_t depth) {
    return ip.is_v4() ? format_prefix(ip.to_v4(), depth) : format_prefix6(ip.b, depth);
}

// Why a prefix lies inside a range that is never forwarded, or nullptr.
const char* reserved_range(const IpAddr& ip, uint8_t depth) {
    struct Reserved { IpAddr ip; uint8_t depth; const char* why; };
    auto v6 = [](std::initializer_list<uint8_t> head) {
        Ipv6Address a{};
        std::copy(head.begin(), head.end(), a.begin());
        return IpAddr::v6(a);
    };
    static const Reserved reserved4[] = {
        {IpAddr::v4(0x00000000), 8, "0.0.0.0/8 is never forwarded (RFC 1812 5.3.7)"},
        {IpAddr::v4(0x7f000000), 8, "127.0.0.0/8 is loopback, never forwarded (RFC 1812 5.3.7)"},
        {IpAddr::v4(0xe0000000), 4, "224.0.0.0/4 is multicast (no multicast routing)"},
        {IpAddr::v4(0xf0000000), 4, "240.0.0.0/4 is reserved, never forwarded (RFC 1812 5.3.7)"},
    };
    static const Reserved reserved6[] = {
        {v6({}), 128, ":: is the unspecified address (RFC 4291 2.5.2)"},
        {v6({0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1}), 128, "::1 is loopback (RFC 4291 2.5.3)"},
        {v6({0xfe, 0x80}), 10, "fe80::/10 is link-local, never forwarded (RFC 4291 2.5.6)"},
        {v6({0xff}), 8, "ff00::/8 is multicast (no multicast routing)"},
    };
    if (ip.is_v4()) {
        for (const Reserved& r : reserved4)
            if (depth >= r.depth && (ip.to_v4() & mask_of(r.depth)) == r.ip.to_v4()) return r.why;
        return nullptr;
    }
    for (const Reserved& r : reserved6)
        if (depth >= r.depth && same_prefix6(ip.b, r.ip.b, r.depth)) return r.why;
    return nullptr;
}

uint8_t host_depth(const IpAddr& ip) { return ip.is_v4() ? 32 : 128; }

}  // namespace

std::string SlowPath::in_vrf(uint16_t vrf) const {
    return vrf == kDefaultVrf ? "" : " in VRF " + vrfs_.name(vrf);
}

std::optional<uint32_t> SlowPath::fib_get(uint16_t vrf, const IpAddr& ip, uint8_t depth) const {
    return ip.is_v4() ? vrfs_.fib(vrf).get(ip.to_v4(), depth) : vrfs_.fib6(vrf).get(ip.b, depth);
}

void SlowPath::route_install(uint16_t vrf, const IpAddr& ip, uint8_t depth, uint32_t hop) {
    unsigned& users = owned_routes_[{vrf, ip, depth}];
    if (users++ != 0) return;
    if (ip.is_v4()) vrfs_.fib(vrf).add_internal({ip.to_v4(), depth, hop});
    else vrfs_.fib6(vrf).add_internal({ip.b, depth, hop});
}

void SlowPath::route_uninstall(uint16_t vrf, const IpAddr& ip, uint8_t depth) {
    auto it = owned_routes_.find({vrf, ip, depth});
    if (it == owned_routes_.end()) return;
    if (--it->second != 0) return;
    owned_routes_.erase(it);
    if (!fib_get(vrf, ip, depth)) return;
    if (ip.is_v4()) vrfs_.fib(vrf).remove_internal(ip.to_v4(), depth);
    else vrfs_.fib6(vrf).remove_internal(ip.b, depth);
}

bool SlowPath::owns_route(uint16_t vrf, const IpAddr& ip, uint8_t depth) const {
    return owned_routes_.count({vrf, ip, depth}) != 0;
}

void SlowPath::check_user_route(uint16_t vrf, const IpAddr& ip, uint8_t depth) const {
    const std::string p = format_prefix_of(ip, depth);
    if (const char* why = reserved_range(ip, depth)) throw RouteError(p + ": inside " + why);
    if (!owns_route(vrf, ip, depth)) return;
    for (const auto& [key, n] : neighbors_)
        if (n.host_route && vrf_of(n.port) == vrf && depth == host_depth(ip) && n.ip == ip)
            return;  // the user's wins
    throw RouteError(p + ": is the connected, local or broadcast route of a port address; "
                     "change the address instead");
}

void SlowPath::user_route_added(uint16_t vrf, const IpAddr& ip, uint8_t depth) {
    // Only a host route we own can be a neighbour's: no scan for the rest.
    if (depth != host_depth(ip) || !owns_route(vrf, ip, depth)) return;
    for (auto& [key, n] : neighbors_)
        if (n.host_route && vrf_of(n.port) == vrf && n.ip == ip) {
            n.host_route = false;  // the user's route replaced ours in the FIB
            owned_routes_.erase({vrf, ip, depth});
            if (ip.is_v4()) vrfs_.fib(vrf).internal_replaced();
            else vrfs_.fib6(vrf).internal_replaced();
        }
}

void SlowPath::address_add(uint16_t port, const IpAddr& ip, uint8_t depth) {
    if (ip.is_v4()) address4_add(port, ip.to_v4(), depth);
    else address6_add(port, ip.b, depth, false);
}

void SlowPath::address_delete(uint16_t port, const IpAddr& ip, uint8_t depth) {
    if (ip.is_v4()) address4_delete(port, ip.to_v4(), depth);
    else address6_delete(port, ip.b, depth);
}

void SlowPath::address4_add(uint16_t port, uint32_t ip, uint8_t depth) {
    const std::string what = format_prefix(ip, depth);
    const uint32_t mask = mask_of(depth);
    const uint32_t net = ip & mask;
    // A /31 has no network or broadcast address: both are hosts (RFC 3021).
    if (depth < 31 && (ip == net || ip == (net | ~mask)))
        throw AddressError(what + ": is the subnet's network or broadcast address");
    if (const char* why = reserved_range(IpAddr::v4(ip), 32))
        throw AddressError(what + ": not a usable unicast address (" + why + ")");
    const uint16_t vrf = vrf_of(port);
    for (uint16_t p = 0; p < addresses_.size(); ++p)
        for (const auto& [a, d] : addresses_[p]) {
            if (vrf_of(p) != vrf) continue;  // VRFs may reuse addresses
            if (a == ip) throw AddressError(what + ": already an address of this router" + in_vrf(vrf));
            if (p != port && d == depth && (a & mask) == net)
                throw AddressError(what + ": subnet " + format_prefix(net, depth) +
                                   " is already connected on another port" + in_vrf(vrf));
        }
    // User routes on exactly these prefixes would be replaced: refuse instead.
    auto user_route = [&](uint32_t rip, uint8_t rdepth) {
        if (!owns_route(vrf, IpAddr::v4(rip), rdepth) && vrfs_.fib(vrf).get(rip, rdepth))
            throw AddressError(what + ": route " + format_prefix(rip, rdepth) +
                               " exists; delete it first");
    };
    user_route(ip, 32);
    if (depth < 32) user_route(net, depth);
    if (depth < 31) user_route(net | ~mask, 32);

    route_install(vrf, IpAddr::v4(ip), 32, first_hop_);
    if (depth < 32) route_install(vrf, IpAddr::v4(net), depth, first_hop_ + 3 + port);
    if (depth < 31) route_install(vrf, IpAddr::v4(net | ~mask), 32, first_hop_ + 1);
    addresses_[port].emplace_back(ip, depth);
    if (thread_.joinable()) gratuitous_arp(port, ip);
}

void SlowPath::address4_delete(uint16_t port, uint32_t ip, uint8_t depth) {
    auto& list = addresses_[port];
    auto it = std::find(list.begin(), list.end(), std::make_pair(ip, depth));
    if (it == list.end())
        throw AddressError(format_prefix(ip, depth) + ": not an address of this port");
    list.erase(it);
    const uint32_t mask = mask_of(depth);
    const uint16_t vrf = vrf_of(port);
    route_uninstall(vrf, IpAddr::v4(ip), 32);
    if (depth < 32) route_uninstall(vrf, IpAddr::v4(ip & mask), depth);
    if (depth < 31) route_uninstall(vrf, IpAddr::v4((ip & mask) | ~mask), 32);
    forget_unconnected(port);
}

// Neighbours no longer on a connected subnet of the port go, as on Linux
// (static ones and those a gateway next hop needs stay).
void SlowPath::forget_unconnected(uint16_t port) {
    std::vector<NeighKey> gone;
    for (auto& [key, n] : neighbors_)
        if (n.port == port && n.state != NeighState::permanent && n.gateway_of.empty() &&
            !connected(port, n.ip))
            gone.push_back(key);
    for (const NeighKey& key : gone) neigh_forget(neighbors_.at(key));
}

std::vector<AddressInfo> SlowPath::addresses() const {
    std::vector<AddressInfo> out;
    for (uint16_t p = 0; p < addresses_.size(); ++p) {
        for (const auto& [ip, depth] : addresses_[p]) out.push_back({p, IpAddr::v4(ip), depth, false});
        for (const Address6& a : addresses6_[p])
            out.push_back({p, IpAddr::v6(a.ip), a.depth, a.automatic});
    }
    return out;
}

std::optional<uint32_t> SlowPath::address_on(uint16_t port, uint32_t ip) const {
    for (const auto& [a, d] : addresses_[port])
        if (a == ip) return a;
    return std::nullopt;
}

bool SlowPath::is_ours(uint16_t vrf, const IpAddr& ip) const {
    if (!ip.is_v4()) {
        for (uint16_t p = 0; p < addresses6_.size(); ++p)
            if (vrf_of(p) == vrf && is_ours6(p, ip.b.data())) return true;
        return false;
    }
    for (uint16_t p = 0; p < addresses_.size(); ++p)
        for (const auto& [a, d] : addresses_[p])
            if (a == ip.to_v4() && vrf_of(p) == vrf) return true;
    return false;
}

bool SlowPath::connected(uint16_t port, const IpAddr& ip) const {
    if (!ip.is_v4()) return ip.link_local() || connected6(port, ip.b);
    const uint32_t v4 = ip.to_v4();
    for (const auto& [a, d] : addresses_[port])
        if ((a & mask_of(d)) == (v4 & mask_of(d))) return true;
    return false;
}

uint32_t SlowPath::source_for(uint16_t port, const IpAddr& peer) const {
    if (port < addresses_.size() && !addresses_[port].empty()) {
        if (peer.is_v4())
            for (const auto& [a, d] : addresses_[port])
                if ((a & mask_of(d)) == (peer.to_v4() & mask_of(d))) return a;
        return addresses_[port].front().first;
    }
    const uint16_t vrf = port < ports_.size() ? vrf_of(port) : kDefaultVrf;
    for (uint16_t p = 0; p < addresses_.size(); ++p)
        if (vrf_of(p) == vrf && !addresses_[p].empty()) return addresses_[p].front().first;
    return 0;
}

}  // namespace appliance
