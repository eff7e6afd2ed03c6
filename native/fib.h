// IPv4 forwarding table: rte_lpm (prefix -> next hop id) read lock-free by
// workers, tbl8 groups reclaimed through RCU, plus the writer's own copy of
// the routes for listing, replace/rollback and next-hop reference counts.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "nexthop.h"

struct rte_lpm;

namespace appliance {

struct Route {
    uint32_t ip;  // host byte order, host bits zero
    uint8_t depth;
    uint32_t nexthop;
};

// "10.1.0.0/16" -> (ip, depth); RouteError on bad syntax, length or host bits.
Route parse_prefix(const std::string& text);
std::string format_prefix(uint32_t ip, uint8_t depth);

class Fib {
public:
    Fib(const std::string& name, uint32_t max_routes, uint32_t tbl8_groups, NextHopTable& hops,
        Rcu& rcu);
    ~Fib();
    Fib(const Fib&) = delete;
    Fib& operator=(const Fib&) = delete;

    rte_lpm* lpm() const { return lpm_; }

    void add(const Route& r);                     // add or replace
    void add_bulk(const std::vector<Route>& rs);  // all or nothing
    void remove(uint32_t ip, uint8_t depth);      // RouteError if absent
    std::vector<Route> list() const;              // sorted by prefix, then length
    std::optional<uint32_t> lookup(uint32_t ip) const;  // what a worker would find
    size_t size() const { return routes_.size(); }
    uint32_t capacity() const { return max_routes_; }

private:
    static uint64_t key(uint32_t ip, uint8_t depth) { return (uint64_t(ip) << 8) | depth; }
    void check(const Route& r) const;
    void apply(const Route& r);  // no checks, throws TableFullError from rte_lpm
    void undo(const std::vector<std::pair<Route, std::optional<uint32_t>>>& done);

    rte_lpm* lpm_ = nullptr;
    uint32_t max_routes_;
    NextHopTable& hops_;
    std::unordered_map<uint64_t, uint32_t> routes_;
};

}  // namespace appliance
