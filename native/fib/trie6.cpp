#include "fib/trie6.h"

#include "core/errors.h"

namespace appliance {

namespace {
constexpr uint32_t kRootEntries = 1u << 24;
constexpr uint32_t kGroupEntries = 256;

uint32_t root_index(const Ipv6Address& p) {
    return (uint32_t(p[0]) << 16) | (uint32_t(p[1]) << 8) | p[2];
}

// Level 0 is the root (bits 0-23); level k >= 1 is indexed by byte 2 + k.
unsigned end_level(uint8_t depth) { return depth <= 24 ? 0 : (depth - 24 + 7) / 8; }
}  // namespace

Trie6::Trie6(uint32_t groups, TableMemory memory, Rcu& rcu, CoveringFn longest_covering)
    : pool_(groups, rcu, "IPv6 groups"),
      covering_(std::move(longest_covering)),
      default_aside_(memory == TableMemory::on_demand),
      root_buffer_(memory, sizeof(uint32_t) * kRootEntries, "trie6"),
      groups_buffer_(memory, sizeof(uint32_t) * kGroupEntries * uint64_t(groups), "trie6g"),
      root_depths_buffer_(TableMemory::on_demand, kRootEntries, "trie6d"),
      group_depths_buffer_(TableMemory::on_demand, kGroupEntries * uint64_t(groups), "trie6gd"),
      root_(root_buffer_.as<std::atomic<uint32_t>>()),
      groups_(groups_buffer_.as<std::atomic<uint32_t>>()),
      root_depths_(root_depths_buffer_.as<uint8_t>()),
      group_depths_(group_depths_buffer_.as<uint8_t>()) {
    if (groups == 0 || groups > kValueMask)
        throw RouteError("IPv6 tbl8 groups must be 1.." + std::to_string(kValueMask));
    if (root_ == nullptr || groups_ == nullptr || root_depths_ == nullptr || group_depths_ == nullptr)
        throw ResourceError("cannot allocate the IPv6 route table (64 MiB + " +
                            std::to_string(uint64_t(groups) >> 10) + " MiB for " +
                            std::to_string(groups) + " groups): not enough " +
                            (default_aside_ ? "memory" : "hugepage memory"));
}

bool Trie6::descend(const Ipv6Address& prefix, uint8_t depth, bool create,
                    std::vector<std::pair<Level, uint32_t>>& path) {
    path.clear();
    path.push_back({{root_, root_depths_}, root_index(prefix)});
    for (unsigned k = 1; k <= end_level(depth); ++k) {
        auto [parent, slot] = path.back();
        uint32_t e = parent.entries[slot].load(std::memory_order_relaxed);
        if (!(e & kGroup)) {
            if (!create) return false;
            // Filled with what the parent entry said, then published.
            const uint32_t g = pool_.take();
            Level child = group(g);
            for (uint32_t j = 0; j < kGroupEntries; ++j) {
                child.entries[j].store(e, std::memory_order_relaxed);
                child.depths[j] = parent.depths[slot];
            }
            e = kGroup | g;
            parent.entries[slot].store(e, std::memory_order_release);
        }
        path.push_back({group(e & kValueMask), prefix[2 + k]});
    }
    return true;
}

void Trie6::add(const Ipv6Address& prefix, uint8_t depth, uint32_t nexthop) {
    if (depth == 0 && default_aside_) {
        default_.store(kValid | nexthop, std::memory_order_release);
        return;
    }
    std::vector<std::pair<Level, uint32_t>> path;
    try {
        descend(prefix, depth, true, path);
    } catch (const TableFullError&) {
        // The groups made so far only repeat their parents: fold them back.
        for (size_t k = path.size() - 1; k-- > 0;)
            if (!try_collapse(path[k].first, path[k].second)) break;
        throw;
    }
    const unsigned level = end_level(depth);
    const uint32_t count = 1u << (level == 0 ? 24 - depth : 24 + 8 * level - depth);
    write(path.back().first, path.back().second, count, depth, kValid | nexthop);
}

void Trie6::write(Level level, uint32_t first, uint32_t count, uint8_t depth, uint32_t value) {
    for (uint32_t i = first; i < first + count; ++i) {
        const uint32_t e = level.entries[i].load(std::memory_order_relaxed);
        if (e & kGroup) {
            write(group(e & kValueMask), 0, kGroupEntries, depth, value);
        } else if (!(e & kValid) || level.depths[i] <= depth) {  // a longer prefix keeps its own
            level.depths[i] = depth;
            level.entries[i].store(value, std::memory_order_release);
        }
    }
}

void Trie6::unwrite(Level level, uint32_t first, uint32_t count, uint8_t depth, uint32_t value,
                    uint8_t cover_depth) {
    for (uint32_t i = first; i < first + count; ++i) {
        const uint32_t e = level.entries[i].load(std::memory_order_relaxed);
        if (e & kGroup) {
            unwrite(group(e & kValueMask), 0, kGroupEntries, depth, value, cover_depth);
            try_collapse(level, i);
        } else if ((e & kValid) && level.depths[i] == depth) {
            level.depths[i] = cover_depth;
            level.entries[i].store(value, std::memory_order_release);
        }
    }
}

bool Trie6::try_collapse(Level level, uint32_t slot) {
    const uint32_t e = level.entries[slot].load(std::memory_order_relaxed);
    if (!(e & kGroup)) return false;
    const Level child = group(e & kValueMask);
    const uint32_t first = child.entries[0].load(std::memory_order_relaxed);
    if (first & kGroup) return false;
    for (uint32_t j = 1; j < kGroupEntries; ++j)
        if (child.entries[j].load(std::memory_order_relaxed) != first ||
            child.depths[j] != child.depths[0])
            return false;
    // Uniform: the slot says the same. Readers that already followed the
    // pointer finish in a group that is not reused before a grace period.
    level.depths[slot] = child.depths[0];
    level.entries[slot].store(first, std::memory_order_release);
    pool_.retire(e & kValueMask);
    return true;
}

void Trie6::remove(const Ipv6Address& prefix, uint8_t depth) {
    if (depth == 0 && default_aside_) {
        default_.store(0, std::memory_order_release);
        return;
    }
    auto cover = covering_(prefix, depth);
    if (cover && cover->second == 0 && default_aside_) cover.reset();  // a miss reads default_
    const uint32_t value = cover ? kValid | cover->first : 0;
    const uint8_t cover_depth = cover ? cover->second : 0;
    std::vector<std::pair<Level, uint32_t>> path;
    if (!descend(prefix, depth, false, path)) return;  // nothing of it is in the table
    const unsigned level = end_level(depth);
    const uint32_t count = 1u << (level == 0 ? 24 - depth : 24 + 8 * level - depth);
    unwrite(path.back().first, path.back().second, count, depth, value, cover_depth);
    for (size_t k = path.size() - 1; k-- > 0;)
        if (!try_collapse(path[k].first, path[k].second)) break;
}

}  // namespace appliance
