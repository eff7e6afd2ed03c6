#include "fib.h"

#include <algorithm>

#include <arpa/inet.h>
#include <rte_errno.h>
#include <rte_lpm.h>

#include "errors.h"

namespace appliance {

Route parse_prefix(const std::string& text) {
    auto slash = text.find('/');
    std::string addr = text.substr(0, slash);
    int depth = 32;
    if (slash != std::string::npos) {
        std::string len = text.substr(slash + 1);
        if (len.empty() || len.size() > 2 || !std::all_of(len.begin(), len.end(), ::isdigit))
            throw RouteError(text + ": prefix length must be a number 0..32");
        depth = std::stoi(len);
        if (depth > 32) throw RouteError(text + ": prefix length must be 0..32");
    }
    in_addr a{};
    if (inet_pton(AF_INET, addr.c_str(), &a) != 1)
        throw RouteError(text + ": '" + addr + "' is not an IPv4 address");
    uint32_t ip = ntohl(a.s_addr);
    uint32_t mask = depth == 0 ? 0 : ~uint32_t(0) << (32 - depth);
    if (ip & ~mask) throw RouteError(text + ": host bits set (did you mean " +
                                     format_prefix(ip & mask, uint8_t(depth)) + "?)");
    return {ip, uint8_t(depth), 0};
}

std::string format_prefix(uint32_t ip, uint8_t depth) {
    in_addr a{htonl(ip)};
    char buf[INET_ADDRSTRLEN];
    inet_ntop(AF_INET, &a, buf, sizeof buf);
    return std::string(buf) + "/" + std::to_string(depth);
}

Fib::Fib(const std::string& name, uint32_t max_routes, uint32_t tbl8_groups, NextHopTable& hops,
         Rcu& rcu)
    : max_routes_(max_routes), hops_(hops) {
    if (hops.capacity() > (1u << 24))
        throw RouteError("rte_lpm next hops are 24 bits: at most 16777216 next hops");
    rte_lpm_config cfg{};
    cfg.max_rules = max_routes + 2;  // the default route takes two /1 rules
    cfg.number_tbl8s = tbl8_groups;
    lpm_ = rte_lpm_create(name.c_str(), SOCKET_ID_ANY, &cfg);
    if (lpm_ == nullptr)
        throw ResourceError("cannot create LPM table for " + std::to_string(max_routes) +
                          " routes and " + std::to_string(tbl8_groups) +
                          " tbl8 groups: " + dpdk_strerror(rte_errno));
    rte_lpm_rcu_config rcfg{};
    rcfg.v = rcu.get();
    rcfg.mode = RTE_LPM_QSBR_MODE_DQ;
    if (rte_lpm_rcu_qsbr_add(lpm_, &rcfg) != 0) {
        rte_lpm_free(lpm_);
        throw ResourceError("cannot attach RCU to the LPM table: " + dpdk_strerror(rte_errno));
    }
}

Fib::~Fib() { rte_lpm_free(lpm_); }

void Fib::check(const Route& r) const {
    if (r.depth > 32) throw RouteError(format_prefix(r.ip, r.depth) + ": prefix length must be 0..32");
    hops_.check_usable(r.nexthop);
}

void Fib::apply(const Route& r) {
    // rte_lpm has no depth 0: the default route is two /1 halves.
    int rc;
    if (r.depth == 0) {
        rc = rte_lpm_add(lpm_, 0, 1, r.nexthop);
        if (rc == 0) rc = rte_lpm_add(lpm_, 0x80000000u, 1, r.nexthop);
        // A real /1 route would shadow the default; keep it by re-adding.
        for (uint32_t half : {0u, 0x80000000u}) {
            auto it = routes_.find(key(half, 1));
            if (rc == 0 && it != routes_.end()) rc = rte_lpm_add(lpm_, half, 1, it->second);
        }
    } else {
        rc = rte_lpm_add(lpm_, r.ip, r.depth, r.nexthop);
    }
    if (rc < 0)
        throw TableFullError(format_prefix(r.ip, r.depth) + ": LPM table full (" +
                             std::to_string(routes_.size()) + " routes; raise max_routes or " +
                             "tbl8_groups): " + dpdk_strerror(rc));
    auto [it, inserted] = routes_.try_emplace(key(r.ip, r.depth), r.nexthop);
    if (!inserted) {
        hops_.unref(it->second);
        it->second = r.nexthop;
    }
    hops_.ref(r.nexthop);
}

void Fib::add(const Route& r) {
    check(r);
    if (routes_.size() >= max_routes_ && !routes_.count(key(r.ip, r.depth)))
        throw TableFullError(format_prefix(r.ip, r.depth) + ": route table full (" +
                             std::to_string(max_routes_) + " routes)");
    apply(r);
}

void Fib::add_bulk(const std::vector<Route>& rs) {
    for (const Route& r : rs) check(r);
    std::vector<std::pair<Route, std::optional<uint32_t>>> done;
    done.reserve(rs.size());
    try {
        for (const Route& r : rs) {
            auto it = routes_.find(key(r.ip, r.depth));
            std::optional<uint32_t> before;
            if (it != routes_.end()) before = it->second;
            else if (routes_.size() >= max_routes_)
                throw TableFullError(format_prefix(r.ip, r.depth) + ": route table full (" +
                                     std::to_string(max_routes_) + " routes)");
            apply(r);
            done.emplace_back(r, before);
        }
    } catch (...) {
        undo(done);
        throw;
    }
}

void Fib::undo(const std::vector<std::pair<Route, std::optional<uint32_t>>>& done) {
    for (auto it = done.rbegin(); it != done.rend(); ++it) {
        const auto& [r, before] = *it;
        if (before) apply({r.ip, r.depth, *before});
        else remove(r.ip, r.depth);
    }
}

void Fib::remove(uint32_t ip, uint8_t depth) {
    auto it = routes_.find(key(ip, depth));
    if (it == routes_.end()) throw RouteError(format_prefix(ip, depth) + ": no such route");
    int rc = 0;
    if (depth == 0) {
        // Restore what each /1 half had without the default: its own /1 or nothing.
        for (uint32_t half : {0u, 0x80000000u}) {
            auto own = routes_.find(key(half, 1));
            rc |= own != routes_.end() ? rte_lpm_add(lpm_, half, 1, own->second)
                                       : rte_lpm_delete(lpm_, half, 1);
        }
    } else if (depth == 1 && routes_.count(key(0, 0))) {
        rc = rte_lpm_add(lpm_, ip, 1, routes_.at(key(0, 0)));
    } else {
        rc = rte_lpm_delete(lpm_, ip, depth);
    }
    if (rc < 0) throw RouteError(format_prefix(ip, depth) + ": rte_lpm_delete failed: " + dpdk_strerror(rc));
    hops_.unref(it->second);
    routes_.erase(it);
}

std::vector<Route> Fib::list() const {
    std::vector<Route> out;
    out.reserve(routes_.size());
    for (const auto& [k, nh] : routes_) out.push_back({uint32_t(k >> 8), uint8_t(k & 0xff), nh});
    std::sort(out.begin(), out.end(), [](const Route& a, const Route& b) {
        return a.ip != b.ip ? a.ip < b.ip : a.depth < b.depth;
    });
    return out;
}

std::optional<uint32_t> Fib::lookup(uint32_t ip) const {
    uint32_t nh;
    if (rte_lpm_lookup(lpm_, ip, &nh) != 0) return std::nullopt;
    return nh;
}

}  // namespace appliance
