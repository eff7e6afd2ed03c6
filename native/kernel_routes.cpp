#include "kernel_routes.h"

#include <cstring>

#include "errors.h"

namespace appliance {

namespace {
constexpr uint8_t kProtocolKernel = 2;  // RTPROT_KERNEL: the kernel's connected routes
}

size_t KernelRouteTable::KeyHash::operator()(const Key& k) const {
    uint64_t hi, lo;
    std::memcpy(&hi, k.prefix.b.data(), 8);
    std::memcpy(&lo, k.prefix.b.data() + 8, 8);
    return std::hash<uint64_t>()(hi * 0x9e3779b97f4a7c15ull ^ lo ^ (uint64_t(k.depth) << 56));
}

KernelRouteTable::KernelRouteTable(std::map<int, uint16_t> ports, std::set<uint8_t> protocols,
                                   Fib& fib, Fib6& fib6, NextHopTable& hops, SlowPath& slow,
                                   uint32_t first_hop, uint32_t count)
    : ports_(std::move(ports)), protocols_(std::move(protocols)), fib_(fib), fib6_(fib6),
      hops_(hops), slow_(slow) {
    for (uint32_t i = count; i-- > 0;) free_ids_.push_back(first_hop + i);
}

bool KernelRouteTable::wanted(const KernelRoute& r, uint16_t* port,
                              std::optional<IpAddr>* gateway) const {
    if (!r.unicast) return false;
    if (protocols_.empty() ? r.protocol == kProtocolKernel : !protocols_.count(r.protocol))
        return false;
    // (Several paths: the first through one of our ports, until ECMP groups exist.)
    for (const KernelPath& p : r.paths) {
        auto it = ports_.find(p.oif);
        if (it == ports_.end()) continue;
        *port = it->second;
        *gateway = p.gateway;
        return true;
    }
    return false;
}

bool KernelRouteTable::fib_has(const Key& k) const {
    return k.prefix.is_v4() ? fib_.get(k.prefix.to_v4(), k.depth).has_value()
                            : fib6_.get(k.prefix.b, k.depth).has_value();
}

void KernelRouteTable::fib_set(const Key& k, uint32_t hop) {
    if (k.prefix.is_v4()) fib_.add({k.prefix.to_v4(), k.depth, hop});
    else fib6_.add({k.prefix.b, k.depth, hop});
}

void KernelRouteTable::fib_remove(const Key& k) {
    if (k.prefix.is_v4()) fib_.remove(k.prefix.to_v4(), k.depth);
    else fib6_.remove(k.prefix.b, k.depth);
}

uint32_t KernelRouteTable::hop_for(uint16_t port, const std::optional<IpAddr>& gateway) {
    if (!gateway) return slow_.connected_hop(port);  // on the link: resolve the destination
    auto it = gateways_.find({port, *gateway});
    if (it != gateways_.end()) {
        it->second.users++;
        return it->second.hop;
    }
    if (free_ids_.empty()) return 0;
    const uint32_t id = free_ids_.back();
    hops_.set(id, slow_.port_hop(port, HopAction::resolve));
    try {
        slow_.gateway_set(id, port, *gateway);
    } catch (const ApplianceError&) {  // our own address, table full
        hops_.remove(id);
        return 0;
    }
    free_ids_.pop_back();
    gateways_[{port, *gateway}] = {id, 1};
    return id;
}

void KernelRouteTable::release(const Entry& e) {
    if (!e.gateway) return;
    auto it = gateways_.find({e.port, *e.gateway});
    if (it == gateways_.end() || --it->second.users != 0) return;
    slow_.gateway_clear(it->second.hop);
    hops_.remove(it->second.hop);  // no route uses it any more
    free_ids_.push_back(it->second.hop);
    gateways_.erase(it);
}

void KernelRouteTable::add(const KernelRoute& r) {
    const Key key{r.prefix, r.depth};
    uint16_t port;
    std::optional<IpAddr> gateway;
    if (!wanted(r, &port, &gateway)) {
        stats_.ignored++;
        if (routes_.count(key)) remove(key);  // it moved off our ports, or changed kind
        return;
    }
    try {
        slow_.check_user_route(r.prefix, r.depth);  // reserved ranges, our own routes
    } catch (const ApplianceError&) {
        stats_.failed++;
        return;
    }
    auto old = routes_.find(key);
    const bool user_route = old == routes_.end() && fib_has(key);
    const uint32_t hop = hop_for(port, gateway);
    if (hop == 0) {
        stats_.failed++;
        return;
    }
    Entry e{hop, r.protocol, port, gateway, user_route || (old != routes_.end() && old->second.shadowed)};
    if (!e.shadowed) {
        try {
            fib_set(key, hop);
        } catch (const ApplianceError&) {  // the table is full
            release(e);
            stats_.failed++;
            return;
        }
    }
    if (old != routes_.end()) {
        release(old->second);
        old->second = e;
    } else {
        routes_.emplace(key, e);
    }
    stats_.added++;
}

void KernelRouteTable::remove(const Key& key) {
    auto it = routes_.find(key);
    if (it == routes_.end()) return;
    if (!it->second.shadowed && fib_has(key)) fib_remove(key);
    release(it->second);
    routes_.erase(it);
    stats_.deleted++;
}

void KernelRouteTable::apply(const KernelRouteChange& change) {
    if (change.added) add(change.route);
    else remove({change.route.prefix, change.route.depth});
}

void KernelRouteTable::replace_all(const std::vector<KernelRoute>& routes) {
    std::unordered_map<Key, bool, KeyHash> seen;
    seen.reserve(routes.size());
    for (const KernelRoute& r : routes) {
        add(r);
        seen[{r.prefix, r.depth}] = true;
    }
    std::vector<Key> gone;
    for (const auto& [key, e] : routes_)
        if (!seen.count(key)) gone.push_back(key);
    for (const Key& key : gone) remove(key);
}

bool KernelRouteTable::has(const IpAddr& prefix, uint8_t depth) const {
    return routes_.count({prefix, depth}) != 0;
}

void KernelRouteTable::user_route_added(const IpAddr& prefix, uint8_t depth) {
    auto it = routes_.find({prefix, depth});
    if (it != routes_.end()) it->second.shadowed = true;
}

void KernelRouteTable::user_route_deleted(const IpAddr& prefix, uint8_t depth) {
    auto it = routes_.find({prefix, depth});
    if (it == routes_.end() || !it->second.shadowed) return;
    it->second.shadowed = false;
    fib_set(it->first, it->second.hop);
}

std::vector<KernelRouteInfo> KernelRouteTable::list() const {
    std::vector<KernelRouteInfo> out;
    out.reserve(routes_.size());
    for (const auto& [k, e] : routes_)
        out.push_back({k.prefix, k.depth, e.protocol, e.port, e.gateway, e.shadowed});
    return out;
}

}  // namespace appliance
