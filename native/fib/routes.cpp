#include "fib/routes.h"

#include <arpa/inet.h>

#include <algorithm>

#include "core/errors.h"
#include "kernel/kernel_routes.h"
#include "slowpath/address_text.h"
#include "slowpath/slowpath.h"

namespace appliance {


Route RouteControl::user_route(const std::string& prefix, uint32_t nexthop) const {
    Route r = parse_prefix(prefix);
    r.nexthop = nexthop;
    slow_.check_user_route(IpAddr::v4(r.ip), r.depth);
    ctl_.check_user_hop(nexthop);
    return r;
}

Route6 RouteControl::user_route6(const std::string& prefix, uint32_t nexthop) const {
    Route6 r = parse_prefix6(prefix);
    r.nexthop = nexthop;
    // (IPv4-mapped prefixes would read as IPv4 where both families share a key.)
    if (r.depth >= 96 && ipv6_v4mapped(r.ip.data()))
        throw RouteError(prefix + ": inside ::ffff:0:0/96, IPv4-mapped addresses are never "
                         "on the wire (RFC 4291 2.5.5.2)");
    slow_.check_user_route(IpAddr::v6(r.ip), r.depth);
    ctl_.check_user_hop(nexthop);
    return r;
}

// A user route now on this prefix: a host route of the slow path's, or a
// kernel route, is shadowed by it.
void RouteControl::user_route_added(const IpAddr& prefix, uint8_t depth) {
    slow_.user_route_added(prefix, depth);
    if (kernel_) kernel_->user_route_added(prefix, depth);
}

// Deleting what is only the kernel's is refused: its daemon would not know.
void RouteControl::check_not_kernel_route(const IpAddr& prefix, uint8_t depth,
                                          const std::string& text) const {
    if (!kernel_ || !kernel_->has(prefix, depth)) return;
    for (const KernelRouteInfo& k : kernel_->list())
        if (k.prefix == prefix && k.depth == depth && !k.shadowed)
            throw RouteError(text + ": is a route from the kernel table (protocol " +
                             std::to_string(k.protocol) + "); it goes when its routing "
                             "daemon withdraws it (force: out of the FIB until it changes or a resync)");
}

void RouteControl::add(const std::string& prefix, uint32_t nexthop) {
    const auto lock = ctl_.lock();
    if (is_ipv6_text(prefix)) {
        const Route6 r = user_route6(prefix, nexthop);
        fib6_.add(r);
        user_route_added(IpAddr::v6(r.ip), r.depth);
        return;
    }
    const Route r = user_route(prefix, nexthop);
    fib_.add(r);
    user_route_added(IpAddr::v4(r.ip), r.depth);
}

void RouteControl::add_bulk(const std::vector<std::string>& prefixes,
                            const std::vector<uint32_t>& nexthops) {
    const auto lock = ctl_.lock();
    if (prefixes.size() != nexthops.size())
        throw RouteError("bulk add: " + std::to_string(prefixes.size()) + " prefixes but " +
                         std::to_string(nexthops.size()) + " next hops");
    std::vector<Route> rs;
    std::vector<Route6> rs6;
    rs.reserve(prefixes.size());
    for (size_t i = 0; i < prefixes.size(); ++i) {
        if (is_ipv6_text(prefixes[i])) {
            rs6.push_back(user_route6(prefixes[i], nexthops[i]));
            continue;
        }
        rs.push_back(user_route(prefixes[i], nexthops[i]));
    }
    // All or nothing across both tables: IPv6 first, taken back if IPv4 fails.
    std::vector<std::optional<uint32_t>> before6;
    for (const Route6& r : rs6) before6.push_back(fib6_.get(r.ip, r.depth));
    fib6_.add_bulk(rs6);
    try {
        fib_.add_bulk(rs);
    } catch (...) {
        for (size_t i = rs6.size(); i-- > 0;) {
            if (before6[i]) fib6_.add({rs6[i].ip, rs6[i].depth, *before6[i]});
            else fib6_.remove(rs6[i].ip, rs6[i].depth);
        }
        throw;
    }
    for (const Route& r : rs) user_route_added(IpAddr::v4(r.ip), r.depth);
    for (const Route6& r : rs6) user_route_added(IpAddr::v6(r.ip), r.depth);
}

void RouteControl::remove(const std::string& prefix) {
    const auto lock = ctl_.lock();
    if (is_ipv6_text(prefix)) {
        const Route6 r = parse_prefix6(prefix);
        if (slow_.owns_route(IpAddr::v6(r.ip), r.depth))
            throw RouteError(prefix + ": is a route of a port address or neighbour, not a user route");
        check_not_kernel_route(IpAddr::v6(r.ip), r.depth, prefix);
        fib6_.remove(r.ip, r.depth);
        if (kernel_) kernel_->user_route_deleted(IpAddr::v6(r.ip), r.depth);
        return;
    }
    Route r = parse_prefix(prefix);
    if (slow_.owns_route(IpAddr::v4(r.ip), r.depth))
        throw RouteError(prefix + ": is a route of a port address or neighbour, not a user route");
    check_not_kernel_route(IpAddr::v4(r.ip), r.depth, prefix);
    fib_.remove(r.ip, r.depth);
    if (kernel_) kernel_->user_route_deleted(IpAddr::v4(r.ip), r.depth);
}

void RouteControl::remove_kernel_route(const std::string& prefix) {
    const auto lock = ctl_.lock();
    bool forgotten = false;
    if (kernel_ && is_ipv6_text(prefix)) {
        const Route6 r = parse_prefix6(prefix);
        forgotten = kernel_->forget(IpAddr::v6(r.ip), r.depth);
    } else if (kernel_) {
        const Route r = parse_prefix(prefix);
        forgotten = kernel_->forget(IpAddr::v4(r.ip), r.depth);
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

std::vector<Route> RouteControl::list4() {
    const auto lock = ctl_.lock();
    return users_only(fib_.list(), ctl_.max_nexthops);
}

std::vector<Route6> RouteControl::list6() {
    const auto lock = ctl_.lock();
    return users_only(fib6_.list(), ctl_.max_nexthops);
}

size_t RouteControl::count() {
    const auto lock = ctl_.lock();
    return fib_.user_routes() + fib6_.user_routes();
}

std::optional<uint32_t> RouteControl::lookup(const std::string& address) {
    const auto lock = ctl_.lock();
    if (is_ipv6_text(address)) return fib6_.lookup(parse_ipv6(address));
    in_addr a{};
    if (inet_pton(AF_INET, address.c_str(), &a) != 1)
        throw RouteError("'" + address + "' is not an IPv4 or IPv6 address");
    return fib_.lookup(ntohl(a.s_addr));
}

uint32_t RouteControl::tbl8_groups_in_use() {
    const auto lock = ctl_.lock();
    return fib_.tbl8_groups_in_use();
}

uint32_t RouteControl::tbl8_groups6_in_use() {
    const auto lock = ctl_.lock();
    return fib6_.groups_in_use();
}

}  // namespace appliance
