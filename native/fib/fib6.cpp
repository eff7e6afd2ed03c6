#include "fib/fib6.h"

#include <arpa/inet.h>

#include <algorithm>
#include <cstring>

#include "core/errors.h"
#include "core/ip_addr.h"

namespace appliance {

Ipv6Address parse_ipv6(const std::string& text) {
    Ipv6Address ip{};
    if (text.find(':') == std::string::npos || inet_pton(AF_INET6, text.c_str(), ip.data()) != 1)
        throw RouteError("'" + text + "' is not an IPv6 address");
    return ip;
}

Route6 parse_prefix6(const std::string& text) {
    const size_t slash = text.find('/');
    if (slash == std::string::npos)
        throw RouteError(text + ": a prefix needs its length, like 2001:db8::/32");
    Route6 r{parse_ipv6(text.substr(0, slash)), 0, 0};
    const std::string len = text.substr(slash + 1);
    if (len.empty() || len.size() > 3 || len.find_first_not_of("0123456789") != std::string::npos ||
        std::stoul(len) > 128)
        throw RouteError(text + ": prefix length must be 0..128");
    r.depth = uint8_t(std::stoul(len));
    if (mask6(r.ip, r.depth) != r.ip) throw RouteError(text + ": has host bits set");
    return r;
}

std::string format_prefix6(const Ipv6Address& ip, uint8_t depth) {
    char buf[INET6_ADDRSTRLEN];
    inet_ntop(AF_INET6, ip.data(), buf, sizeof buf);
    return std::string(buf) + "/" + std::to_string(depth);
}

size_t Fib6::KeyHash::operator()(const Key& k) const {
    uint64_t hi, lo;
    std::memcpy(&hi, k.ip.data(), 8);
    std::memcpy(&lo, k.ip.data() + 8, 8);
    return std::hash<uint64_t>()(hi * 0x9e3779b97f4a7c15ull ^ lo ^ (uint64_t(k.depth) << 56));
}

Fib6::Fib6(uint32_t max_routes, uint32_t groups, TableMemory memory, NextHopTable& hops,
         Rcu& rcu)
    : max_routes_(max_routes), hops_(hops),
      table_(groups, memory, rcu, [this](const Ipv6Address& ip, uint8_t depth) {
          return longest_covering(ip, depth);
      }) {
    if (hops.capacity() > Trie6::kValueMask + 1)
        throw RouteError("next hop ids are 30 bits in the IPv6 table");
    // The global table is sized for a full table up front; a VRF's grows.
    if (memory == TableMemory::hugepages) routes_.reserve(std::min<uint32_t>(max_routes, 1u << 16));
}

std::optional<std::pair<uint32_t, uint8_t>> Fib6::longest_covering(const Ipv6Address& ip,
                                                                   uint8_t depth) const {
    for (int d = int(depth) - 1; d >= 0; --d)
        if (per_depth_[d] != 0)
            if (auto nh = exact({mask6(ip, uint8_t(d)), uint8_t(d)}))
                return std::make_pair(*nh, uint8_t(d));
    return std::nullopt;
}

std::optional<uint32_t> Fib6::exact(const Key& k) const {
    auto it = routes_.find(k);
    if (it == routes_.end()) return std::nullopt;
    return it->second;
}

void Fib6::apply(const Route6& r) {
    try {
        table_.add(r.ip, r.depth, r.nexthop);
    } catch (const TableFullError& e) {
        throw TableFullError(format_prefix6(r.ip, r.depth) + ": " + e.what() + " (" +
                             std::to_string(routes_.size()) + " routes; raise the IPv6 groups)");
    }
    auto [it, inserted] = routes_.try_emplace({r.ip, r.depth}, r.nexthop);
    if (!inserted) {
        hops_.unref(it->second);
        it->second = r.nexthop;
    } else {
        per_depth_[r.depth]++;
    }
    hops_.ref(r.nexthop);
}

void Fib6::add(const Route6& r) { add_bulk({r}); }

void Fib6::add_bulk(const std::vector<Route6>& rs) {
    for (const Route6& r : rs) {
        if (r.depth > 128) throw RouteError(format_prefix6(r.ip, r.depth) + ": length must be 0..128");
        hops_.check_usable(r.nexthop);
    }
    std::vector<std::pair<Route6, std::optional<uint32_t>>> done;
    done.reserve(rs.size());
    try {
        for (const Route6& r : rs) {
            const std::optional<uint32_t> before = exact({r.ip, r.depth});
            if (!before && user_routes() >= max_routes_)
                throw TableFullError(format_prefix6(r.ip, r.depth) + ": IPv6 route table full (" +
                                     std::to_string(max_routes_) + " routes)");
            apply(r);
            done.emplace_back(r, before);
        }
    } catch (...) {
        for (auto it = done.rbegin(); it != done.rend(); ++it) {
            if (it->second) apply({it->first.ip, it->first.depth, *it->second});
            else remove(it->first.ip, it->first.depth);
        }
        throw;
    }
}

void Fib6::remove(const Ipv6Address& ip, uint8_t depth) {
    auto it = routes_.find({ip, depth});
    if (it == routes_.end()) throw RouteError(format_prefix6(ip, depth) + ": no such route");
    const uint32_t nexthop = it->second;
    routes_.erase(it);  // before the table: the fallback is the longest *other* route
    per_depth_[depth]--;
    table_.remove(ip, depth);
    hops_.unref(nexthop);
}

void Fib6::add_internal(const Route6& r) {
    const bool fresh = !exact({r.ip, r.depth});
    hops_.check_usable(r.nexthop);
    apply(r);
    if (fresh) internal_++;
}

void Fib6::remove_internal(const Ipv6Address& ip, uint8_t depth) {
    remove(ip, depth);
    internal_--;
}

std::vector<Route6> Fib6::list() const {
    std::vector<Route6> out;
    out.reserve(routes_.size());
    for (const auto& [k, nh] : routes_) out.push_back({k.ip, k.depth, nh});
    std::sort(out.begin(), out.end(), [](const Route6& a, const Route6& b) {
        return a.ip != b.ip ? a.ip < b.ip : a.depth < b.depth;
    });
    return out;
}

std::optional<uint32_t> Fib6::lookup(const Ipv6Address& ip) const {
    constexpr uint32_t kMiss = ~0u;
    const uint32_t nh = table_.lookup(ip.data(), kMiss);
    if (nh == kMiss) return std::nullopt;
    return nh;
}

}  // namespace appliance
