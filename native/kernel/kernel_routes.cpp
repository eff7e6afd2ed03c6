#include "kernel/kernel_routes.h"

#include <algorithm>
#include <cstring>

#include <linux/rtnetlink.h>

#include "core/errors.h"

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
                                   uint16_t vrf, uint32_t first_hop, uint32_t count)
    : ports_(std::move(ports)), protocols_(std::move(protocols)), fib_(fib), fib6_(fib6),
      hops_(hops), slow_(slow), vrf_(vrf) {
    for (uint32_t i = count; i-- > 0;) free_ids_.push_back(first_hop + i);
    // Routes that go nowhere (a daemon's Null0, a summary's discard): one drop
    // hop each kind, as Linux: blackhole silent, the others answer with ICMP.
    for (auto [type, why] : {std::pair{RTN_BLACKHOLE, DropReason::blackhole},
                             std::pair{RTN_UNREACHABLE, DropReason::route_unreachable},
                             std::pair{RTN_PROHIBIT, DropReason::route_prohibited}}) {
        if (free_ids_.empty()) break;
        NextHop drop{};
        drop.action = HopAction::drop;
        drop.drop_reason = uint8_t(why);
        hops_.set(free_ids_.back(), drop);
        reject_hops_[uint8_t(type)] = free_ids_.back();
        free_ids_.pop_back();
    }
}

bool KernelRouteTable::mirrored(const KernelRoute& r) const {
    if (r.type != RTN_UNICAST && !reject_hops_.count(r.type)) return false;  // local, broadcast...
    return protocols_.empty() ? r.protocol != kProtocolKernel : protocols_.count(r.protocol) != 0;
}

std::vector<RoutePath> KernelRouteTable::wanted(const KernelRoute& r) const {
    std::vector<RoutePath> out;
    for (const KernelPath& p : r.paths) {  // the paths through our ports
        auto it = ports_.find(p.oif);
        if (it == ports_.end()) continue;
        const RoutePath path{it->second, p.gateway};
        if (std::find(out.begin(), out.end(), path) == out.end() &&
            out.size() < HopGroup::kMaxPaths)
            out.push_back(path);
    }
    return out;
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

uint32_t KernelRouteTable::path_hop(const RoutePath& path) {
    if (!path.gateway) return slow_.connected_hop(path.port);  // on the link: resolve the destination
    auto it = gateways_.find({path.port, *path.gateway});
    if (it != gateways_.end()) {
        it->second.users++;
        return it->second.hop;
    }
    if (free_ids_.empty()) return 0;
    const uint32_t id = free_ids_.back();
    hops_.set(id, slow_.port_hop(path.port, HopAction::resolve));
    try {
        slow_.gateway_set(id, path.port, *path.gateway);
    } catch (const ApplianceError&) {  // our own address, table full
        hops_.remove(id);
        return 0;
    }
    free_ids_.pop_back();
    gateways_[{path.port, *path.gateway}] = {id, 1};
    return id;
}

void KernelRouteTable::release_path(const RoutePath& path) {
    if (!path.gateway) return;
    auto it = gateways_.find({path.port, *path.gateway});
    if (it == gateways_.end() || --it->second.users != 0) return;
    slow_.gateway_clear(it->second.hop);
    hops_.remove(it->second.hop);  // no route or group uses it any more
    free_ids_.push_back(it->second.hop);
    gateways_.erase(it);
}

// One path: its own next hop. Several: a group over theirs, shared by every
// route with the same set (members held once, by the group).
uint32_t KernelRouteTable::hop_for(const std::vector<RoutePath>& paths) {
    if (paths.size() == 1) return path_hop(paths[0]);
    std::vector<uint32_t> members;
    auto give_back = [&] {
        for (size_t i = 0; i < members.size(); ++i) release_path(paths[i]);
    };
    for (const RoutePath& p : paths) {
        const uint32_t id = path_hop(p);
        if (id == 0) {
            give_back();
            return 0;
        }
        members.push_back(id);
    }
    std::vector<uint32_t> key = members;
    std::sort(key.begin(), key.end());
    auto it = groups_.find(key);
    if (it != groups_.end()) {
        give_back();  // the group holds them already
        it->second.users++;
        return it->second.hop;
    }
    if (free_ids_.empty()) {
        give_back();
        return 0;
    }
    const uint32_t id = free_ids_.back();
    hops_.set_group(id, key);
    free_ids_.pop_back();
    groups_[key] = {id, 1};
    group_members_[id] = key;
    return id;
}

void KernelRouteTable::release(const Entry& e) {
    if (e.paths.empty()) return;  // a reject hop: permanent
    if (e.paths.size() == 1) return release_path(e.paths[0]);
    auto key = group_members_.find(e.hop);
    if (key == group_members_.end()) return;
    auto it = groups_.find(key->second);
    if (--it->second.users != 0) return;
    hops_.remove(e.hop);
    free_ids_.push_back(e.hop);
    groups_.erase(it);
    group_members_.erase(key);
    for (const RoutePath& p : e.paths) release_path(p);
}

void KernelRouteTable::add(const KernelRoute& r) {
    const Key key{r.prefix, r.depth};
    const bool reject = r.type != RTN_UNICAST;
    std::vector<RoutePath> paths = mirrored(r) && !reject ? wanted(r) : std::vector<RoutePath>{};
    if (!mirrored(r) || (!reject && paths.empty())) {
        stats_.ignored++;
        if (routes_.count(key)) remove(key);  // it moved off our ports, or changed kind
        return;
    }
    try {
        slow_.check_user_route(vrf_, r.prefix, r.depth);  // reserved ranges, our own routes
    } catch (const ApplianceError&) {
        stats_.failed++;
        return;
    }
    auto old = routes_.find(key);
    const bool user_route = old == routes_.end() && fib_has(key);
    const uint32_t hop = reject ? reject_hops_.at(r.type) : hop_for(paths);
    if (hop == 0) {
        stats_.failed++;
        return;
    }
    Entry e{hop, r.protocol, r.type, std::move(paths),
            user_route || (old != routes_.end() && old->second.shadowed)};
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
        const Entry before = std::move(old->second);
        old->second = std::move(e);
        release(before);
    } else {
        routes_.emplace(key, std::move(e));
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

bool KernelRouteTable::forget(const IpAddr& prefix, uint8_t depth) {
    if (!has(prefix, depth)) return false;
    remove({prefix, depth});
    return true;
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
        out.push_back({k.prefix, k.depth, e.protocol, e.type, e.paths, e.shadowed, vrf_});
    return out;
}

}  // namespace appliance
