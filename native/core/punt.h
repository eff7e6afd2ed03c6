// The hand-off between the fast path and the slow path. A worker puts what
// the slow path needs to know about a packet into the mbuf's hash field (the
// RSS hash is not used after rx), then enqueues it on its punt ring; the
// slow path sends through a worker's return ring the same way, so every
// packet leaves on a worker's own tx queue and no queue is shared.
#pragma once

#include <cstdint>
#include <cstring>

#include <rte_cycles.h>
#include <rte_mbuf.h>

namespace appliance {

constexpr uint32_t kNoRoute = 0xffffffffu;   // no route (next hops are 24 bits)
constexpr uint32_t kRuleDrop = 0xfffffffeu;  // an exact-match rule said drop

enum class PuntKind : uint8_t {
    arp = 1,      // ARP frame for us (our MAC or broadcast)
    ipv4_input,   // IPv4 that needs the whole routing decision (options)
    ipv4_routed,  // IPv4 whose next hop `hop` said anything but forward
    ipv4_checked, // slow path only: TTL and options already handled (held packets)
    ipv6_input,   // IPv6 for the slow path to decide: link-local, link-scope multicast, hop limit
    ipv6_routed,  // IPv6 whose next hop `hop` said anything but forward, or over the MTU
    ipv6_checked, // slow path only: hop limit already handled (held packets)
    kernel,       // link-local multicast for the port's kernel interface (routing protocols)
};

struct PacketMeta {
    uint32_t hop;       // next hop id the fast path found (ipv4_routed)
    uint16_t port;      // punt: input port index; return: output port index
    PuntKind kind;
    uint8_t generated;  // return: 1 if the slow path made it (ARP, ICMP, fragment)
};
static_assert(sizeof(PacketMeta) <= sizeof(rte_mbuf::hash), "PacketMeta must fit mbuf.hash");

inline void set_meta(rte_mbuf* m, const PacketMeta& meta) { std::memcpy(&m->hash, &meta, sizeof meta); }
inline PacketMeta get_meta(const rte_mbuf* m) {
    PacketMeta meta;
    std::memcpy(&meta, &m->hash, sizeof meta);
    return meta;
}

// A token bucket on the TSC (RFC 1812 4.3.2.8). Workers keep one each so a
// flood of packets that would only earn an ICMP error (no route, TTL
// expired) is counted and dropped in place instead of flooding the slow
// path; the slow path keeps the exact, configured one.
struct TokenBucket {
    uint64_t cycles_per_token = 0;  // 0: unlimited
    uint64_t burst_cycles = 0;      // burst * cycles_per_token
    uint64_t credit_at = 0;         // tsc at which the bucket was last empty, in effect

    void configure(double rate_per_s, unsigned burst) {  // rate 0: unlimited
        cycles_per_token = rate_per_s <= 0 ? 0 : uint64_t(double(rte_get_tsc_hz()) / rate_per_s);
        if (cycles_per_token == 0 && rate_per_s > 0) cycles_per_token = 1;
        burst_cycles = cycles_per_token * (burst ? burst : 1);
        credit_at = 0;
    }
    // True (and one token taken) when the bucket has a token at `now`.
    bool take(uint64_t now) {
        if (cycles_per_token == 0) return true;
        if (now - credit_at > burst_cycles || credit_at > now) credit_at = now - burst_cycles;
        if (now - credit_at < cycles_per_token) return false;
        credit_at += cycles_per_token;
        return true;
    }
};

}  // namespace appliance
