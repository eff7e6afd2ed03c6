#include "fib/routes.h"

#include <arpa/inet.h>

#include <algorithm>
#include <functional>
#include <map>

#include "core/errors.h"
#include "kernel/kernel_routes.h"
#include "slowpath/address_text.h"
#include "slowpath/slowpath.h"

namespace appliance {

uint16_t RouteControl::vrf_index(const std::string& vrf) const { return vrfs_.index(vrf); }

std::vector<std::string> RouteControl::vrf_names() const {
    std::vector<std::string> out;
    for (uint16_t v = 0; v < vrfs_.size(); ++v) out.push_back(vrfs_.name(v));
    return out;
}

Route RouteControl::user_route(uint16_t vrf, const std::string& prefix, uint32_t nexthop) const {
    Route r = parse_prefix(prefix);
    r.nexthop = nexthop;
    slow_.check_user_route(vrf, IpAddr::v4(r.ip), r.depth);
    ctl_.check_user_hop(nexthop);
    return r;
}

Route6 RouteControl::user_route6(uint16_t vrf, const std::string& prefix, uint32_t nexthop) const {
    Route6 r = parse_prefix6(prefix);
    r.nexthop = nexthop;
    // (IPv4-mapped prefixes would read as IPv4 where both families share a key.)
    if (r.depth >= 96 && ipv6_v4mapped(r.ip.data()))
        throw RouteError(prefix + ": inside ::ffff:0:0/96, IPv4-mapped addresses are never "
                         "on the wire (RFC 4291 2.5.5.2)");
    slow_.check_user_route(vrf, IpAddr::v6(r.ip), r.depth);
    ctl_.check_user_hop(nexthop);
    return r;
}

// A user route now on this prefix: a host route of the slow path's, or a
// kernel route (the default VRF's), is shadowed by it.
void RouteControl::user_route_added(uint16_t vrf, const IpAddr& prefix, uint8_t depth) {
    slow_.user_route_added(vrf, prefix, depth);
    if (KernelRouteTable* kernel = kernel_of(vrf)) kernel->user_route_added(prefix, depth);
}

// Deleting what is only the kernel's is refused: its daemon would not know.
void RouteControl::check_not_kernel_route(uint16_t vrf, const IpAddr& prefix, uint8_t depth,
                                          const std::string& text) const {
    KernelRouteTable* kernel = kernel_of(vrf);
    if (!kernel || !kernel->has(prefix, depth)) return;
    for (const KernelRouteInfo& k : kernel->list())
        if (k.prefix == prefix && k.depth == depth && !k.shadowed)
            throw RouteError(text + ": is a route from the kernel table (protocol " +
                             std::to_string(k.protocol) + "); it goes when its routing "
                             "daemon withdraws it (force: out of the FIB until it changes or a resync)");
}

void RouteControl::add(const std::string& prefix, uint32_t nexthop, const std::string& vrf) {
    const auto lock = ctl_.lock();
    const uint16_t v = vrf_index(vrf);
    if (is_ipv6_text(prefix)) {
        const Route6 r = user_route6(v, prefix, nexthop);
        vrfs_.fib6(v).add(r);
        user_route_added(v, IpAddr::v6(r.ip), r.depth);
        return;
    }
    const Route r = user_route(v, prefix, nexthop);
    vrfs_.fib(v).add(r);
    user_route_added(v, IpAddr::v4(r.ip), r.depth);
}

void RouteControl::add_bulk(const std::vector<std::string>& prefixes,
                            const std::vector<uint32_t>& nexthops,
                            const std::vector<std::string>& vrfs) {
    const auto lock = ctl_.lock();
    if (prefixes.size() != nexthops.size() || (!vrfs.empty() && vrfs.size() != prefixes.size()))
        throw RouteError("bulk add: " + std::to_string(prefixes.size()) + " prefixes but " +
                         std::to_string(nexthops.size()) + " next hops and " +
                         std::to_string(vrfs.size()) + " VRFs");
    struct Batch {
        std::vector<Route> rs;
        std::vector<Route6> rs6;
    };
    std::map<uint16_t, Batch> by_vrf;
    std::map<std::string, uint16_t> known;  // names looked up once
    for (size_t i = 0; i < prefixes.size(); ++i) {
        uint16_t v = kDefaultVrf;
        if (!vrfs.empty()) {
            auto it = known.find(vrfs[i]);
            if (it == known.end()) it = known.emplace(vrfs[i], vrf_index(vrfs[i])).first;
            v = it->second;
        }
        Batch& b = by_vrf[v];
        if (is_ipv6_text(prefixes[i])) b.rs6.push_back(user_route6(v, prefixes[i], nexthops[i]));
        else b.rs.push_back(user_route(v, prefixes[i], nexthops[i]));
    }
    // All or nothing: each table's bulk add is; the ones done before a
    // failing one are put back as they were.
    std::vector<std::function<void()>> undo;
    try {
        for (auto& [v, b] : by_vrf) {
            Fib6& fib6 = vrfs_.fib6(v);
            std::vector<std::optional<uint32_t>> before6;
            for (const Route6& r : b.rs6) before6.push_back(fib6.get(r.ip, r.depth));
            fib6.add_bulk(b.rs6);
            undo.push_back([&fib6, &b, before6] {
                for (size_t i = b.rs6.size(); i-- > 0;) {
                    if (before6[i]) fib6.add({b.rs6[i].ip, b.rs6[i].depth, *before6[i]});
                    else fib6.remove(b.rs6[i].ip, b.rs6[i].depth);
                }
            });
            Fib& fib = vrfs_.fib(v);
            std::vector<std::optional<uint32_t>> before;
            for (const Route& r : b.rs) before.push_back(fib.get(r.ip, r.depth));
            fib.add_bulk(b.rs);
            undo.push_back([&fib, &b, before] {
                for (size_t i = b.rs.size(); i-- > 0;) {
                    if (before[i]) fib.add({b.rs[i].ip, b.rs[i].depth, *before[i]});
                    else fib.remove(b.rs[i].ip, b.rs[i].depth);
                }
            });
        }
    } catch (...) {
        for (size_t i = undo.size(); i-- > 0;) undo[i]();
        throw;
    }
    for (const auto& [v, b] : by_vrf) {
        for (const Route& r : b.rs) user_route_added(v, IpAddr::v4(r.ip), r.depth);
        for (const Route6& r : b.rs6) user_route_added(v, IpAddr::v6(r.ip), r.depth);
    }
}

void RouteControl::remove(const std::string& prefix, const std::string& vrf) {
    const auto lock = ctl_.lock();
    const uint16_t v = vrf_index(vrf);
    if (is_ipv6_text(prefix)) {
        const Route6 r = parse_prefix6(prefix);
        if (slow_.owns_route(v, IpAddr::v6(r.ip), r.depth))
            throw RouteError(prefix + ": is a route of a port address or neighbour, not a user route");
        check_not_kernel_route(v, IpAddr::v6(r.ip), r.depth, prefix);
        vrfs_.fib6(v).remove(r.ip, r.depth);
        if (KernelRouteTable* kernel = kernel_of(v)) kernel->user_route_deleted(IpAddr::v6(r.ip), r.depth);
        return;
    }
    Route r = parse_prefix(prefix);
    if (slow_.owns_route(v, IpAddr::v4(r.ip), r.depth))
        throw RouteError(prefix + ": is a route of a port address or neighbour, not a user route");
    check_not_kernel_route(v, IpAddr::v4(r.ip), r.depth, prefix);
    vrfs_.fib(v).remove(r.ip, r.depth);
    if (KernelRouteTable* kernel = kernel_of(v)) kernel->user_route_deleted(IpAddr::v4(r.ip), r.depth);
}

void RouteControl::remove_kernel_route(const std::string& prefix, const std::string& vrf) {
    const auto lock = ctl_.lock();
    KernelRouteTable* kernel = kernel_of(vrf_index(vrf));
    bool forgotten = false;
    if (kernel && is_ipv6_text(prefix)) {
        const Route6 r = parse_prefix6(prefix);
        forgotten = kernel->forget(IpAddr::v6(r.ip), r.depth);
    } else if (kernel) {
        const Route r = parse_prefix(prefix);
        forgotten = kernel->forget(IpAddr::v4(r.ip), r.depth);
    }
    if (!forgotten) throw RouteError(prefix + ": no route from the kernel table on this prefix");
}

namespace {

// The users' routes of a table's listing: those of internal next hops (the
// slow path's, the kernel table's) live above the users' ids.
template <class R>
std::vector<R> users_only(std::vector<R> all, uint32_t max_nexthops) {
    all.erase(std::remove_if(all.begin(), all.end(),
                             [&](const R& r) { return r.nexthop >= max_nexthops; }),
              all.end());
    return all;
}

}  // namespace

std::vector<Route> RouteControl::list4(const std::string& vrf) {
    const auto lock = ctl_.lock();
    return users_only(vrfs_.fib(vrf_index(vrf)).list(), ctl_.max_nexthops);
}

std::vector<Route6> RouteControl::list6(const std::string& vrf) {
    const auto lock = ctl_.lock();
    return users_only(vrfs_.fib6(vrf_index(vrf)).list(), ctl_.max_nexthops);
}

size_t RouteControl::count() {
    const auto lock = ctl_.lock();
    size_t n = 0;
    for (uint16_t v = 0; v < vrfs_.size(); ++v)
        n += vrfs_.fib(v).user_routes() + vrfs_.fib6(v).user_routes();
    return n;
}

std::optional<uint32_t> RouteControl::lookup(const std::string& address, const std::string& vrf) {
    const auto lock = ctl_.lock();
    const uint16_t v = vrf_index(vrf);
    if (is_ipv6_text(address)) return vrfs_.fib6(v).lookup(parse_ipv6(address));
    in_addr a{};
    if (inet_pton(AF_INET, address.c_str(), &a) != 1)
        throw RouteError("'" + address + "' is not an IPv4 or IPv6 address");
    return vrfs_.fib(v).lookup(ntohl(a.s_addr));
}

std::optional<std::pair<std::string, uint32_t>> RouteControl::match(const std::string& address,
                                                                    const std::string& vrf) {
    const auto lock = ctl_.lock();
    const uint16_t v = vrf_index(vrf);
    if (is_ipv6_text(address)) {
        const Ipv6Address ip = parse_ipv6(address);
        const auto found = vrfs_.fib6(v).match(ip);
        if (!found) return std::nullopt;
        return std::make_pair(format_prefix6(mask6(ip, found->second), found->second), found->first);
    }
    in_addr a{};
    if (inet_pton(AF_INET, address.c_str(), &a) != 1)
        throw RouteError("'" + address + "' is not an IPv4 or IPv6 address");
    const uint32_t ip = ntohl(a.s_addr);
    const auto found = vrfs_.fib(v).match(ip);
    if (!found) return std::nullopt;
    const uint32_t mask = found->second == 0 ? 0 : ~uint32_t(0) << (32 - found->second);
    return std::make_pair(format_prefix(ip & mask, found->second), found->first);
}

uint32_t RouteControl::tbl8_groups_in_use() {
    const auto lock = ctl_.lock();
    return vrfs_.fib(kDefaultVrf).tbl8_groups_in_use();
}

uint32_t RouteControl::tbl8_groups6_in_use() {
    const auto lock = ctl_.lock();
    return vrfs_.fib6(kDefaultVrf).groups_in_use();
}

}  // namespace appliance
