// Our own addresses: each installs a local route (ip/32 -> the local next
// hop, answered by the slow path), its subnet's connected route (-> the
// port's "resolve" next hop: ARP for the destination) and, below /31, the
// subnet broadcast as a martian destination (directed broadcasts are not
// forwarded, as on Linux). Routes the slow path owns are refcounted: two
// addresses in one subnet share its connected route.
#include <algorithm>

#include "errors.h"
#include "slowpath.h"

namespace appliance {

namespace {

uint32_t mask_of(uint8_t depth) { return depth == 0 ? 0 : ~uint32_t(0) << (32 - depth); }
uint64_t route_key(uint32_t ip, uint8_t depth) { return (uint64_t(ip) << 8) | depth; }

}  // namespace

void SlowPath::route_install(uint32_t ip, uint8_t depth, uint32_t hop) {
    unsigned& users = owned_routes_[route_key(ip, depth)];
    if (users++ == 0) fib_.add_internal({ip, depth, hop});
}

void SlowPath::route_uninstall(uint32_t ip, uint8_t depth) {
    auto it = owned_routes_.find(route_key(ip, depth));
    if (it == owned_routes_.end()) return;
    if (--it->second == 0) {
        owned_routes_.erase(it);
        if (fib_.get(ip, depth)) fib_.remove_internal(ip, depth);
    }
}

bool SlowPath::owns_route(uint32_t ip, uint8_t depth) const {
    return owned_routes_.count(route_key(ip, depth)) != 0;
}

// Why a prefix lies inside a range that is never forwarded, or nullptr.
const char* reserved_range(uint32_t ip, uint8_t depth) {
    struct Reserved { uint32_t ip; uint8_t depth; const char* why; };
    static const Reserved reserved[] = {
        {0x00000000, 8, "0.0.0.0/8 is never forwarded (RFC 1812 5.3.7)"},
        {0x7f000000, 8, "127.0.0.0/8 is loopback, never forwarded (RFC 1812 5.3.7)"},
        {0xe0000000, 4, "224.0.0.0/4 is multicast (no multicast routing)"},
        {0xf0000000, 4, "240.0.0.0/4 is reserved, never forwarded (RFC 1812 5.3.7)"},
    };
    for (const Reserved& r : reserved)
        if (depth >= r.depth && (ip & mask_of(r.depth)) == r.ip) return r.why;
    return nullptr;
}

void SlowPath::check_user_route(uint32_t ip, uint8_t depth) const {
    const std::string p = format_prefix(ip, depth);
    if (const char* why = reserved_range(ip, depth)) throw RouteError(p + ": inside " + why);
    auto it = owned_routes_.find(route_key(ip, depth));
    if (it == owned_routes_.end()) return;
    for (const auto& [key, n] : neighbors_)
        if (n.host_route && depth == 32 && n.ip == ip) return;  // a host route: the user's wins
    throw RouteError(p + ": is the connected, local or broadcast route of a port address; "
                     "change the address instead");
}

void SlowPath::user_route_added(uint32_t ip, uint8_t depth) {
    // Only a /32 we own can be a neighbour's host route: no scan for the rest.
    if (depth != 32 || !owns_route(ip, 32)) return;
    for (auto& [key, n] : neighbors_)
        if (n.host_route && n.ip == ip) {
            n.host_route = false;  // the user's route replaced ours in the FIB
            owned_routes_.erase(route_key(ip, 32));
            fib_.internal_replaced();
        }
}

void SlowPath::address_add(uint16_t port, uint32_t ip, uint8_t depth) {
    const std::string what = format_prefix(ip, depth);
    const uint32_t mask = mask_of(depth);
    const uint32_t net = ip & mask;
    if (depth < 32 && (ip == net || (depth < 31 && ip == (net | ~mask))))
        throw AddressError(what + ": is the subnet's network or broadcast address");
    if (const char* why = reserved_range(ip, 32))
        throw AddressError(what + ": not a usable unicast address (" + why + ")");
    for (uint16_t p = 0; p < addresses_.size(); ++p)
        for (const auto& [a, d] : addresses_[p]) {
            if (a == ip) throw AddressError(what + ": already an address of this router");
            if (p != port && d == depth && (a & mask) == net)
                throw AddressError(what + ": subnet " + format_prefix(net, depth) +
                                   " is already connected on another port");
        }
    // User routes on exactly these prefixes would be replaced: refuse instead.
    auto user_route = [&](uint32_t rip, uint8_t rdepth) {
        if (!owns_route(rip, rdepth) && fib_.get(rip, rdepth))
            throw AddressError(what + ": route " + format_prefix(rip, rdepth) +
                               " exists; delete it first");
    };
    user_route(ip, 32);
    if (depth < 32) user_route(net, depth);
    if (depth < 31) user_route(net | ~mask, 32);

    route_install(ip, 32, first_hop_);
    if (depth < 32) route_install(net, depth, first_hop_ + 3 + port);
    if (depth < 31) route_install(net | ~mask, 32, first_hop_ + 1);
    addresses_[port].emplace_back(ip, depth);
    if (thread_.joinable()) gratuitous_arp(port, ip);
}

void SlowPath::address_delete(uint16_t port, uint32_t ip, uint8_t depth) {
    auto& list = addresses_[port];
    auto it = std::find(list.begin(), list.end(), std::make_pair(ip, depth));
    if (it == list.end())
        throw AddressError(format_prefix(ip, depth) + ": not an address of this port");
    list.erase(it);
    const uint32_t mask = mask_of(depth);
    route_uninstall(ip, 32);
    if (depth < 32) route_uninstall(ip & mask, depth);
    if (depth < 31) route_uninstall((ip & mask) | ~mask, 32);
    // Neighbours no longer on a connected subnet of the port go, as on Linux
    // (static ones and those a gateway next hop needs stay).
    std::vector<uint64_t> gone;
    for (auto& [key, n] : neighbors_)
        if (n.port == port && n.state != NeighState::permanent && n.gateway_of.empty() &&
            !connected(port, n.ip))
            gone.push_back(key);
    for (uint64_t key : gone) neigh_forget(neighbors_.at(key));
}

std::vector<AddressInfo> SlowPath::addresses() const {
    std::vector<AddressInfo> out;
    for (uint16_t p = 0; p < addresses_.size(); ++p)
        for (const auto& [ip, depth] : addresses_[p]) out.push_back({p, ip, depth});
    return out;
}

std::optional<uint32_t> SlowPath::address_on(uint16_t port, uint32_t ip) const {
    for (const auto& [a, d] : addresses_[port])
        if (a == ip) return a;
    return std::nullopt;
}

bool SlowPath::is_ours(uint32_t ip) const {
    for (const auto& list : addresses_)
        for (const auto& [a, d] : list)
            if (a == ip) return true;
    return false;
}

bool SlowPath::connected(uint16_t port, uint32_t ip) const {
    for (const auto& [a, d] : addresses_[port])
        if ((a & mask_of(d)) == (ip & mask_of(d))) return true;
    return false;
}

uint32_t SlowPath::source_for(uint16_t port) const {
    if (port < addresses_.size() && !addresses_[port].empty()) return addresses_[port].front().first;
    for (const auto& list : addresses_)
        if (!list.empty()) return list.front().first;
    return 0;
}

}  // namespace appliance
