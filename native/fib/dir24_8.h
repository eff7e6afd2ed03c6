// The IPv4 lookup structure: DIR-24-8 (a 2^24-entry first level indexed by
// the top 24 bits, 256-entry second-level groups for longer prefixes), the
// same layout rte_lpm uses, written by one control thread while workers read.
//
// Why not rte_lpm: its rule table scans every rule of the same prefix length
// on each add, so loading a full table is quadratic (1M internet-shaped
// routes: 64 s). Here the rules live in the Fib's hash map, an add touches
// only the entries it covers, and a delete finds its replacement with at
// most 32 hash lookups.
//
// Concurrency: every entry is one aligned 32-bit word, written with a single
// store, so a reader sees the old or the new entry. A second-level group is
// filled before the first-level entry pointing to it is published (release
// store), and a group unlinked from the first level is reused only after an
// RCU grace period, when no worker can still be reading it.
//
// In on-demand memory (a VRF's table: table_memory.h) the default route is
// kept aside in `default_` rather than written over all 2^24 first-level
// entries, which would back the whole 64 MiB; a miss reads it instead.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <optional>
#include <vector>

#include "fib/group_pool.h"
#include "fib/table_memory.h"
#include "core/rcu.h"

namespace appliance {

class Dir24_8 {
public:
    // Entry: bits 0-23 next hop (or group index when kGroup), then flags,
    // then the depth of the prefix that wrote it in the top 6 bits.
    static constexpr uint32_t kValid = 1u << 24;
    static constexpr uint32_t kGroup = 1u << 25;
    static constexpr uint32_t kValueMask = 0x00ffffff;
    static constexpr unsigned kDepthShift = 26;

    // `longest_covering(ip, depth)` returns the next hop and depth of the
    // longest route strictly shorter than `depth` that covers `ip`.
    using CoveringFn = std::function<std::optional<std::pair<uint32_t, uint8_t>>(uint32_t, uint8_t)>;

    Dir24_8(uint32_t groups, TableMemory memory, Rcu& rcu, CoveringFn longest_covering);
    Dir24_8(const Dir24_8&) = delete;
    Dir24_8& operator=(const Dir24_8&) = delete;

    // Writer side. add() throws TableFullError when no group is free.
    void add(uint32_t ip, uint8_t depth, uint32_t nexthop);
    void remove(uint32_t ip, uint8_t depth);  // the route must have been added
    uint32_t groups_in_use() const { return pool_.in_use(); }

    // Reader side: next hop, or `miss` when no route covers the address.
    inline uint32_t lookup(uint32_t ip, uint32_t miss) const {
        uint32_t e = load(tbl24_[ip >> 8]);
        if (e & kGroup) e = load(tbl8_[((e & kValueMask) << 8) | (ip & 0xff)]);
        if (__builtin_expect(!(e & kValid), 0)) e = load(default_);
        return (e & kValid) ? (e & kValueMask) : miss;
    }

    // Four independent lookups, so their cache misses overlap.
    inline void lookup4(const uint32_t ip[4], uint32_t hop[4], uint32_t miss) const {
        uint32_t e0 = load(tbl24_[ip[0] >> 8]), e1 = load(tbl24_[ip[1] >> 8]);
        uint32_t e2 = load(tbl24_[ip[2] >> 8]), e3 = load(tbl24_[ip[3] >> 8]);
        if (__builtin_expect((e0 | e1 | e2 | e3) & kGroup, 0)) {
            if (e0 & kGroup) e0 = load(tbl8_[((e0 & kValueMask) << 8) | (ip[0] & 0xff)]);
            if (e1 & kGroup) e1 = load(tbl8_[((e1 & kValueMask) << 8) | (ip[1] & 0xff)]);
            if (e2 & kGroup) e2 = load(tbl8_[((e2 & kValueMask) << 8) | (ip[2] & 0xff)]);
            if (e3 & kGroup) e3 = load(tbl8_[((e3 & kValueMask) << 8) | (ip[3] & 0xff)]);
        }
        if (__builtin_expect(!(e0 & e1 & e2 & e3 & kValid), 0)) {
            const uint32_t d = load(default_);
            if (!(e0 & kValid)) e0 = d;
            if (!(e1 & kValid)) e1 = d;
            if (!(e2 & kValid)) e2 = d;
            if (!(e3 & kValid)) e3 = d;
        }
        hop[0] = (e0 & kValid) ? (e0 & kValueMask) : miss;
        hop[1] = (e1 & kValid) ? (e1 & kValueMask) : miss;
        hop[2] = (e2 & kValid) ? (e2 & kValueMask) : miss;
        hop[3] = (e3 & kValid) ? (e3 & kValueMask) : miss;
    }

private:
    static uint32_t load(const std::atomic<uint32_t>& a) { return a.load(std::memory_order_acquire); }
    static uint32_t entry(uint32_t nexthop, uint8_t depth) {
        return kValid | nexthop | (uint32_t(depth) << kDepthShift);
    }
    static uint8_t depth_of(uint32_t e) { return uint8_t(e >> kDepthShift); }

    // Rewrites entries of [first, first + count) whose depth is exactly `depth`.
    void replace_in_group(uint32_t group, uint32_t first, uint32_t count, uint8_t depth, uint32_t value);
    void try_collapse(uint32_t index24);

    // The entry a removed prefix's places fall back to: its cover's, or 0
    // (none, or the default route kept aside).
    uint32_t cover_entry(const std::optional<std::pair<uint32_t, uint8_t>>& cover) const;

    GroupPool pool_;
    CoveringFn covering_;
    bool default_aside_;
    std::atomic<uint32_t> default_{0};  // the default route's entry when kept aside
    TableBuffer tbl24_buffer_, tbl8_buffer_;
    std::atomic<uint32_t>* tbl24_;  // 2^24 entries
    std::atomic<uint32_t>* tbl8_;   // pool_.total() * 256 entries
};

}  // namespace appliance
