// What the appliance keeps of a kernel routing table (RouteSync feeds it):
// each unicast route of a chosen protocol that leaves by one of our ports'
// kernel interfaces becomes a FIB route to a next hop of our own, through
// the same gateway resolved by our ARP/NDP. A route the operator set (config
// or API) on the same prefix wins and shadows the kernel's, which comes
// back when the operator's goes, as a static route over BGP on any router.
#pragma once

#include <map>
#include <set>
#include <string>
#include <unordered_map>
#include <vector>

#include "fib/fib.h"
#include "fib/fib6.h"
#include "kernel/netlink_routes.h"
#include "nexthop/nexthop.h"
#include "slowpath/slowpath.h"

namespace appliance {

#define APPLIANCE_SYNC_COUNTERS(X)                                                     \
    X(added, "kernel routes added or replaced in the FIB")                              \
    X(deleted, "kernel routes deleted from the FIB")                                    \
    X(ignored, "kernel routes not mirrored: other protocol or type, not via our ports") \
    X(failed, "kernel routes the FIB refused (full, reserved range)")                   \
    X(overruns, "times the kernel dropped route messages for want of buffer")           \
    X(resyncs, "full dumps after the first (each overrun, each error)")

struct RouteSyncStats {
#define APPLIANCE_SYNC_FIELD(name, help) uint64_t name = 0;
    APPLIANCE_SYNC_COUNTERS(APPLIANCE_SYNC_FIELD)
#undef APPLIANCE_SYNC_FIELD
    uint64_t routes = 0;    // in the table now (shadowed ones included)
    uint64_t shadowed = 0;  // hidden by an operator's route on the same prefix
    double last_dump_s = 0;  // how long the last full dump and apply took
};

// One way out: a port, and the gateway there (none: the destination is on the link).
struct RoutePath {
    uint16_t port;
    std::optional<IpAddr> gateway;
    bool operator==(const RoutePath& o) const { return port == o.port && gateway == o.gateway; }
};

struct KernelRouteInfo {
    IpAddr prefix;
    uint8_t depth;
    uint8_t protocol;
    uint8_t type;                  // RTN_*
    std::vector<RoutePath> paths;  // several: an equal-cost group; none: a reject route
    bool shadowed;
    uint16_t vrf = 0;
};

class KernelRouteTable {
public:
    // `ports`: kernel ifindex -> port index. `protocols`: empty = all but
    // the kernel's own connected routes. `fib`, `fib6`: VRF `vrf`'s. Next hop
    // ids [first_hop, + count).
    KernelRouteTable(std::map<int, uint16_t> ports, std::set<uint8_t> protocols, Fib& fib,
                     Fib6& fib6, NextHopTable& hops, SlowPath& slow, uint16_t vrf,
                     uint32_t first_hop, uint32_t count);
    uint16_t vrf() const { return vrf_; }

    // All with the writer lock held.
    void apply(const KernelRouteChange& change);
    void replace_all(const std::vector<KernelRoute>& routes);  // what is not in it goes
    bool has(const IpAddr& prefix, uint8_t depth) const;
    // The operator's override: out of the FIB until the kernel announces it again.
    bool forget(const IpAddr& prefix, uint8_t depth);
    void user_route_added(const IpAddr& prefix, uint8_t depth);    // ours is shadowed now
    void user_route_deleted(const IpAddr& prefix, uint8_t depth);  // ours comes back
    std::vector<KernelRouteInfo> list() const;
    RouteSyncStats& stats() { return stats_; }

private:
    struct Key {
        IpAddr prefix;
        uint8_t depth;
        bool operator==(const Key& o) const { return depth == o.depth && prefix == o.prefix; }
    };
    struct KeyHash {
        size_t operator()(const Key& k) const;
    };
    struct Entry {
        uint32_t hop;  // a gateway's, a port's connected one, a group's, or a reject hop
        uint8_t protocol;
        uint8_t type;
        std::vector<RoutePath> paths;
        bool shadowed;
    };
    struct Shared {  // a next hop of ours that routes share
        uint32_t hop;
        unsigned users;
    };

    bool mirrored(const KernelRoute& r) const;
    std::vector<RoutePath> wanted(const KernelRoute& r) const;  // the paths through our ports
    void add(const KernelRoute& r);
    void remove(const Key& key);
    uint32_t hop_for(const std::vector<RoutePath>& paths);  // 0: no next hop id left
    uint32_t path_hop(const RoutePath& path);
    void release(const Entry& e);
    void release_path(const RoutePath& path);
    bool fib_has(const Key& k) const;
    void fib_set(const Key& k, uint32_t hop);
    void fib_remove(const Key& k);

    std::map<int, uint16_t> ports_;
    std::set<uint8_t> protocols_;
    Fib& fib_;
    Fib6& fib6_;
    NextHopTable& hops_;
    SlowPath& slow_;
    uint16_t vrf_;
    std::unordered_map<Key, Entry, KeyHash> routes_;
    std::map<std::pair<uint16_t, IpAddr>, Shared> gateways_;
    std::map<std::vector<uint32_t>, Shared> groups_;  // sorted member ids -> group hop
    std::map<uint32_t, std::vector<uint32_t>> group_members_;  // group hop -> its key
    std::vector<uint32_t> free_ids_;
    std::map<uint8_t, uint32_t> reject_hops_;  // RTN_BLACKHOLE/UNREACHABLE/PROHIBIT -> drop hop
    RouteSyncStats stats_;
};

}  // namespace appliance
