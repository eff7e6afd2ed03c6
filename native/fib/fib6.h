// IPv6 forwarding table: routes (prefix -> next hop id) in a hash map owned
// by the single writer, compiled into the Trie6 that workers read lock-free.
// The same contract as the IPv4 Fib: adds and replaces, all-or-nothing bulk
// adds, next-hop reference counts, a delete falling back to the longest
// shorter route (at most 128 hash lookups), never a scan of the table.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "nexthop/nexthop.h"
#include "fib/trie6.h"

namespace appliance {

struct Route6 {
    Ipv6Address ip;  // host bits zero
    uint8_t depth;
    uint32_t nexthop;
};

// "2001:db8::/32" -> (address, depth); RouteError on bad syntax, length or host bits.
Route6 parse_prefix6(const std::string& text);
std::string format_prefix6(const Ipv6Address& ip, uint8_t depth);
Ipv6Address parse_ipv6(const std::string& text);  // RouteError unless an IPv6 address

class Fib6 {
public:
    Fib6(uint32_t max_routes, uint32_t groups, TableMemory memory, NextHopTable& hops, Rcu& rcu);
    Fib6(const Fib6&) = delete;
    Fib6& operator=(const Fib6&) = delete;

    const Trie6& table() const { return table_; }
    void add(const Route6& r);                     // add or replace
    void add_bulk(const std::vector<Route6>& rs);  // all or nothing
    void remove(const Ipv6Address& ip, uint8_t depth);  // RouteError if absent
    // Routes of the router's own (addresses, connected subnets, neighbours),
    // not counted against max_routes, which is the users' budget.
    void add_internal(const Route6& r);
    void remove_internal(const Ipv6Address& ip, uint8_t depth);
    void internal_replaced() { internal_--; }  // a user route took an internal one's prefix
    size_t user_routes() const { return routes_.size() - internal_; }
    std::vector<Route6> list() const;  // sorted by prefix, then length
    std::optional<uint32_t> lookup(const Ipv6Address& ip) const;
    // The route that decides for `ip`: (next hop, prefix length).
    std::optional<std::pair<uint32_t, uint8_t>> match(const Ipv6Address& ip) const { return longest_covering(ip, 129); }
    std::optional<uint32_t> get(const Ipv6Address& ip, uint8_t depth) const { return exact({ip, depth}); }
    size_t size() const { return routes_.size(); }
    uint32_t groups_in_use() const { return table_.groups_in_use(); }

private:
    struct Key {
        Ipv6Address ip;
        uint8_t depth;
        bool operator==(const Key& o) const { return depth == o.depth && ip == o.ip; }
    };
    struct KeyHash {
        size_t operator()(const Key& k) const;
    };
    std::optional<std::pair<uint32_t, uint8_t>> longest_covering(const Ipv6Address& ip,
                                                                 uint8_t depth) const;
    void apply(const Route6& r);
    std::optional<uint32_t> exact(const Key& k) const;

    uint32_t max_routes_;
    size_t internal_ = 0;
    NextHopTable& hops_;
    std::unordered_map<Key, uint32_t, KeyHash> routes_;
    std::array<uint32_t, 129> per_depth_{};  // routes of each length: a delete probes only those
    Trie6 table_;
};

}  // namespace appliance
