// The IPv6 lookup structure: a multibit trie, Dir24_8's layout carried on to
// 128 bits. A 2^24-entry first level is indexed by the top 24 bits; each
// 256-entry group below it by the next byte, so a /48 is found in at most 4
// reads and a /128 in 14. The rules live in Fib6's hash map; an add touches
// only the entries it covers and a delete finds its replacement there.
//
// Entries are one 32-bit word (what workers read): kGroup + group index, or
// kValid + next hop. The depth of the prefix that wrote an entry (needed to
// add and delete, never to look up) is kept beside, in writer-only arrays,
// so lookups stay on 4-byte entries. Concurrency as in Dir24_8: single
// stores, a group filled before it is published, and an unlinked group
// reused only after an RCU grace period. In on-demand memory (a VRF's
// table) the default route is kept aside, as in Dir24_8.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <functional>
#include <optional>
#include <vector>

#include "fib/group_pool.h"
#include "fib/table_memory.h"
#include "core/rcu.h"

namespace appliance {

using Ipv6Address = std::array<uint8_t, 16>;  // network byte order

class Trie6 {
public:
    static constexpr uint32_t kGroup = 1u << 31;
    static constexpr uint32_t kValid = 1u << 30;
    static constexpr uint32_t kValueMask = kValid - 1;

    // The next hop and depth of the longest route strictly shorter than
    // `depth` covering `prefix`, if any.
    using CoveringFn =
        std::function<std::optional<std::pair<uint32_t, uint8_t>>(const Ipv6Address&, uint8_t)>;

    Trie6(uint32_t groups, TableMemory memory, Rcu& rcu, CoveringFn longest_covering);
    Trie6(const Trie6&) = delete;
    Trie6& operator=(const Trie6&) = delete;

    // Writer side. add() throws TableFullError when no group is free (and
    // then leaves the table as it was for every address).
    void add(const Ipv6Address& prefix, uint8_t depth, uint32_t nexthop);
    void remove(const Ipv6Address& prefix, uint8_t depth);  // the route must have been added
    uint32_t groups_in_use() const { return pool_.in_use(); }

    // Reader side: next hop, or `miss` when no route covers the address.
    inline uint32_t lookup(const uint8_t* ip, uint32_t miss) const {
        uint32_t e = load(root_[(uint32_t(ip[0]) << 16) | (uint32_t(ip[1]) << 8) | ip[2]]);
        for (unsigned byte = 3; e & kGroup; ++byte)  // a /128 ends a group chain at byte 15
            e = load(groups_[(uint64_t(e & kValueMask) << 8) | ip[byte]]);
        if (__builtin_expect(!(e & kValid), 0)) e = load(default_);
        return (e & kValid) ? (e & kValueMask) : miss;
    }

    // Four lookups walked down together, so their cache misses overlap.
    inline void lookup4(const uint8_t* const ip[4], uint32_t hop[4], uint32_t miss) const {
        uint32_t e[4];
        for (unsigned k = 0; k < 4; ++k)
            e[k] = load(root_[(uint32_t(ip[k][0]) << 16) | (uint32_t(ip[k][1]) << 8) | ip[k][2]]);
        for (unsigned byte = 3; (e[0] | e[1] | e[2] | e[3]) & kGroup; ++byte)
            for (unsigned k = 0; k < 4; ++k)
                if (e[k] & kGroup) e[k] = load(groups_[(uint64_t(e[k] & kValueMask) << 8) | ip[k][byte]]);
        if (__builtin_expect(!(e[0] & e[1] & e[2] & e[3] & kValid), 0))
            for (unsigned k = 0; k < 4; ++k)
                if (!(e[k] & kValid)) e[k] = load(default_);
        for (unsigned k = 0; k < 4; ++k) hop[k] = (e[k] & kValid) ? (e[k] & kValueMask) : miss;
    }

private:
    // One level's entries and the depths beside them.
    struct Level {
        std::atomic<uint32_t>* entries;
        uint8_t* depths;
    };
    static uint32_t load(const std::atomic<uint32_t>& a) { return a.load(std::memory_order_acquire); }
    Level group(uint32_t g) {
        return {&groups_[uint64_t(g) << 8], &group_depths_[uint64_t(g) << 8]};
    }

    // Writes `value` (of `depth`) over [first, first + count) of a level where
    // no longer prefix wrote, descending into groups.
    void write(Level level, uint32_t first, uint32_t count, uint8_t depth, uint32_t value);
    // Replaces what `depth` wrote over [first, first + count) with the cover.
    void unwrite(Level level, uint32_t first, uint32_t count, uint8_t depth, uint32_t value,
                 uint8_t cover_depth);
    // A group whose entries (and depths) are all equal is folded into its slot.
    bool try_collapse(Level level, uint32_t slot);
    // Groups down to the level where `depth` ends, creating them if asked;
    // returns the path of (level, slot) or nothing if a group is missing.
    bool descend(const Ipv6Address& prefix, uint8_t depth, bool create,
                 std::vector<std::pair<Level, uint32_t>>& path);

    GroupPool pool_;
    CoveringFn covering_;
    bool default_aside_;
    std::atomic<uint32_t> default_{0};  // the default route's entry when kept aside
    TableBuffer root_buffer_, groups_buffer_;
    // Writer-only, so always on demand: touched where routes are.
    TableBuffer root_depths_buffer_, group_depths_buffer_;
    std::atomic<uint32_t>* root_;    // 2^24 entries
    std::atomic<uint32_t>* groups_;  // pool_.total() * 256 entries
    uint8_t* root_depths_;
    uint8_t* group_depths_;
};

}  // namespace appliance
