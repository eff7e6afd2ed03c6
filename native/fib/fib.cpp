#include "fib/fib.h"

#include <algorithm>

#include <arpa/inet.h>

#include "core/errors.h"

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

std::string format_ipv4(uint32_t ip) {
    in_addr a{htonl(ip)};
    char buf[INET_ADDRSTRLEN];
    inet_ntop(AF_INET, &a, buf, sizeof buf);
    return buf;
}

std::string format_prefix(uint32_t ip, uint8_t depth) {
    return format_ipv4(ip) + "/" + std::to_string(depth);
}

std::pair<uint32_t, uint8_t> parse_interface(const std::string& text) {
    const auto slash = text.find('/');
    if (slash == std::string::npos)
        throw RouteError("'" + text + "': an address needs its prefix length, like 192.0.2.1/24");
    Route r = parse_prefix(text.substr(0, slash) + "/32");
    const std::string len = text.substr(slash + 1);
    if (len.empty() || len.size() > 2 || !std::all_of(len.begin(), len.end(), ::isdigit) ||
        std::stoi(len) < 1 || std::stoi(len) > 32)
        throw RouteError("'" + text + "': prefix length must be a number 1..32");
    return {r.ip, uint8_t(std::stoi(len))};
}

Fib::Fib(uint32_t max_routes, uint32_t tbl8_groups, TableMemory memory, NextHopTable& hops,
         Rcu& rcu)
    : max_routes_(max_routes), hops_(hops),
      table_(tbl8_groups, memory, rcu, [this](uint32_t ip, uint8_t depth) {
          return longest_covering(ip, depth);
      }) {
    if (hops.capacity() > Dir24_8::kValueMask + 1)
        throw RouteError("next hop ids are 24 bits: at most 16777216 next hops");
    // The global table is sized for a full table up front; a VRF's grows.
    if (memory == TableMemory::hugepages) routes_.reserve(std::min<uint32_t>(max_routes, 1u << 20));
}

Fib::~Fib() = default;

std::optional<std::pair<uint32_t, uint8_t>> Fib::longest_covering(uint32_t ip, uint8_t depth) const {
    for (int d = int(depth) - 1; d >= 0; --d) {
        uint32_t mask = d == 0 ? 0 : ~uint32_t(0) << (32 - d);
        auto it = routes_.find(key(ip & mask, uint8_t(d)));
        if (it != routes_.end()) return std::make_pair(it->second, uint8_t(d));
    }
    return std::nullopt;
}

void Fib::check(const Route& r) const {
    if (r.depth > 32) throw RouteError(format_prefix(r.ip, r.depth) + ": prefix length must be 0..32");
    hops_.check_usable(r.nexthop);
}

void Fib::apply(const Route& r) {
    try {
        table_.add(r.ip, r.depth, r.nexthop);
    } catch (const TableFullError& e) {
        throw TableFullError(format_prefix(r.ip, r.depth) + ": " + e.what() + " (" +
                             std::to_string(routes_.size()) + " routes; raise tbl8_groups)");
    }
    auto [it, inserted] = routes_.try_emplace(key(r.ip, r.depth), r.nexthop);
    if (!inserted) {
        hops_.unref(it->second);
        it->second = r.nexthop;
    }
    hops_.ref(r.nexthop);
}

void Fib::add(const Route& r) {
    check(r);
    if (user_routes() >= max_routes_ && !routes_.count(key(r.ip, r.depth)))
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
            else if (user_routes() >= max_routes_)
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
    table_.remove(ip, depth);
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
    constexpr uint32_t kMiss = ~0u;
    uint32_t nh = table_.lookup(ip, kMiss);
    if (nh == kMiss) return std::nullopt;
    return nh;
}

}  // namespace appliance

namespace appliance {

void Fib::add_internal(const Route& r) {
    check(r);
    const bool fresh = routes_.count(key(r.ip, r.depth)) == 0;
    apply(r);
    if (fresh) internal_++;
}

void Fib::remove_internal(uint32_t ip, uint8_t depth) {
    remove(ip, depth);
    internal_--;
}

std::optional<uint32_t> Fib::get(uint32_t ip, uint8_t depth) const {
    auto it = routes_.find(key(ip, depth));
    if (it == routes_.end()) return std::nullopt;
    return it->second;
}

}  // namespace appliance
