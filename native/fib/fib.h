// IPv4 forwarding table: the routes (prefix -> next hop id) in a hash map
// owned by the single writer, compiled into a DIR-24-8 table that workers
// read lock-free (see dir24_8.h). The map also serves listing,
// replace/rollback, next-hop reference counts and each delete's fallback.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "fib/dir24_8.h"
#include "nexthop/nexthop.h"

namespace appliance {

struct Route {
    uint32_t ip;  // host byte order, host bits zero
    uint8_t depth;
    uint32_t nexthop;
};

// "10.1.0.0/16" -> (ip, depth); RouteError on bad syntax, length or host bits.
Route parse_prefix(const std::string& text);
std::string format_prefix(uint32_t ip, uint8_t depth);
std::string format_ipv4(uint32_t ip);  // host order -> "192.0.2.1"
// "192.0.2.1/24" -> (ip, depth) with host bits allowed: an interface address.
std::pair<uint32_t, uint8_t> parse_interface(const std::string& text);

class Fib {
public:
    // `memory`: hugepages for the global VRF, on demand for the others.
    Fib(uint32_t max_routes, uint32_t tbl8_groups, TableMemory memory, NextHopTable& hops, Rcu& rcu);
    ~Fib();
    Fib(const Fib&) = delete;
    Fib& operator=(const Fib&) = delete;

    const Dir24_8& table() const { return table_; }

    void add(const Route& r);                     // add or replace
    // The slow path's own routes (addresses, neighbours, reserved ranges):
    // not counted against max_routes, which is the users' budget.
    void add_internal(const Route& r);
    void remove_internal(uint32_t ip, uint8_t depth);
    void internal_replaced() { internal_--; }  // a user route took an internal one's prefix
    void add_bulk(const std::vector<Route>& rs);  // all or nothing
    void remove(uint32_t ip, uint8_t depth);      // RouteError if absent
    std::vector<Route> list() const;              // sorted by prefix, then length
    std::optional<uint32_t> lookup(uint32_t ip) const;  // what a worker would find
    // The route that decides for `ip`: (next hop, prefix length).
    std::optional<std::pair<uint32_t, uint8_t>> match(uint32_t ip) const { return longest_covering(ip, 33); }
    std::optional<uint32_t> get(uint32_t ip, uint8_t depth) const;  // exact prefix
    uint32_t tbl8_groups_in_use() const { return table_.groups_in_use(); }
    size_t size() const { return routes_.size(); }
    size_t user_routes() const { return routes_.size() - internal_; }

private:
    static uint64_t key(uint32_t ip, uint8_t depth) { return (uint64_t(ip) << 8) | depth; }
    void check(const Route& r) const;
    void apply(const Route& r);  // no checks; TableFullError when tbl8 groups run out
    std::optional<std::pair<uint32_t, uint8_t>> longest_covering(uint32_t ip, uint8_t depth) const;
    void undo(const std::vector<std::pair<Route, std::optional<uint32_t>>>& done);

    uint32_t max_routes_;
    size_t internal_ = 0;
    NextHopTable& hops_;
    std::unordered_map<uint64_t, uint32_t> routes_;
    Dir24_8 table_;
};

}  // namespace appliance
