#include "fib/dir24_8.h"

#include "core/errors.h"

namespace appliance {

namespace {
constexpr uint32_t kTbl24Entries = 1u << 24;
constexpr uint32_t kGroupEntries = 256;
}  // namespace

Dir24_8::Dir24_8(uint32_t groups, TableMemory memory, Rcu& rcu, CoveringFn longest_covering)
    : pool_(groups, rcu, "tbl8 groups"),
      covering_(std::move(longest_covering)),
      default_aside_(memory == TableMemory::on_demand),
      tbl24_buffer_(memory, sizeof(uint32_t) * kTbl24Entries, "dir24"),
      tbl8_buffer_(memory, sizeof(uint32_t) * kGroupEntries * uint64_t(groups), "dir8"),
      tbl24_(tbl24_buffer_.as<std::atomic<uint32_t>>()),
      tbl8_(tbl8_buffer_.as<std::atomic<uint32_t>>()) {
    if (groups == 0 || groups > kValueMask)
        throw RouteError("tbl8_groups must be 1.." + std::to_string(kValueMask));
    if (tbl24_ == nullptr || tbl8_ == nullptr)
        throw ResourceError("cannot allocate the route table (64 MiB + " +
                            std::to_string(uint64_t(groups) >> 10) + " MiB for " +
                            std::to_string(groups) + " tbl8 groups): not enough " +
                            (default_aside_ ? "memory" : "hugepage memory"));
}

uint32_t Dir24_8::cover_entry(const std::optional<std::pair<uint32_t, uint8_t>>& cover) const {
    if (!cover || (cover->second == 0 && default_aside_)) return 0;
    return entry(cover->first, cover->second);
}

void Dir24_8::add(uint32_t ip, uint8_t depth, uint32_t nexthop) {
    const uint32_t value = entry(nexthop, depth);
    if (depth == 0 && default_aside_) {
        default_.store(value, std::memory_order_release);
        return;
    }
    // An entry is overwritten unless a longer prefix wrote it.
    auto wins = [depth](uint32_t e) { return !(e & kValid) || depth_of(e) <= depth; };
    if (depth <= 24) {
        const uint32_t first = ip >> 8, count = 1u << (24 - depth);
        for (uint32_t i = first; i < first + count; ++i) {
            uint32_t e = tbl24_[i].load(std::memory_order_relaxed);
            if (e & kGroup) {
                std::atomic<uint32_t>* grp = &tbl8_[(e & kValueMask) * kGroupEntries];
                for (uint32_t j = 0; j < kGroupEntries; ++j)
                    if (wins(grp[j].load(std::memory_order_relaxed)))
                        grp[j].store(value, std::memory_order_release);
            } else if (wins(e)) {
                tbl24_[i].store(value, std::memory_order_release);
            }
        }
        return;
    }
    const uint32_t i = ip >> 8;
    uint32_t e = tbl24_[i].load(std::memory_order_relaxed);
    if (!(e & kGroup)) {
        // Fill a group with what the first-level entry said, then publish it.
        const uint32_t g = pool_.take();
        std::atomic<uint32_t>* grp = &tbl8_[g * kGroupEntries];
        for (uint32_t j = 0; j < kGroupEntries; ++j) grp[j].store(e, std::memory_order_relaxed);
        e = kGroup | g;
        tbl24_[i].store(e, std::memory_order_release);
    }
    std::atomic<uint32_t>* grp = &tbl8_[(e & kValueMask) * kGroupEntries];
    const uint32_t first = ip & 0xff, count = 1u << (32 - depth);
    for (uint32_t j = first; j < first + count; ++j)
        if (wins(grp[j].load(std::memory_order_relaxed))) grp[j].store(value, std::memory_order_release);
}

void Dir24_8::replace_in_group(uint32_t group, uint32_t first, uint32_t count, uint8_t depth,
                               uint32_t value) {
    std::atomic<uint32_t>* grp = &tbl8_[group * kGroupEntries];
    for (uint32_t j = first; j < first + count; ++j) {
        uint32_t x = grp[j].load(std::memory_order_relaxed);
        if ((x & kValid) && depth_of(x) == depth) grp[j].store(value, std::memory_order_release);
    }
}

void Dir24_8::try_collapse(uint32_t index24) {
    const uint32_t e = tbl24_[index24].load(std::memory_order_relaxed);
    const uint32_t g = e & kValueMask;
    std::atomic<uint32_t>* grp = &tbl8_[g * kGroupEntries];
    const uint32_t first = grp[0].load(std::memory_order_relaxed);
    for (uint32_t j = 1; j < kGroupEntries; ++j)
        if (grp[j].load(std::memory_order_relaxed) != first) return;
    // Uniform: one first-level entry says the same. Readers that already
    // followed the old pointer finish with a group that is not reused yet.
    tbl24_[index24].store(first, std::memory_order_release);
    pool_.retire(g);
}

void Dir24_8::remove(uint32_t ip, uint8_t depth) {
    // What the entries this prefix wrote fall back to: the longest shorter
    // route covering it, or nothing.
    if (depth == 0 && default_aside_) {
        default_.store(0, std::memory_order_release);
        return;
    }
    const uint32_t value = cover_entry(covering_(ip, depth));
    if (depth <= 24) {
        const uint32_t first = ip >> 8, count = 1u << (24 - depth);
        for (uint32_t i = first; i < first + count; ++i) {
            uint32_t e = tbl24_[i].load(std::memory_order_relaxed);
            if (e & kGroup) {
                replace_in_group(e & kValueMask, 0, kGroupEntries, depth, value);
                try_collapse(i);
            } else if ((e & kValid) && depth_of(e) == depth) {
                tbl24_[i].store(value, std::memory_order_release);
            }
        }
        return;
    }
    const uint32_t i = ip >> 8;
    const uint32_t e = tbl24_[i].load(std::memory_order_relaxed);
    if (!(e & kGroup)) return;  // nothing of this prefix is in the table
    replace_in_group(e & kValueMask, ip & 0xff, 1u << (32 - depth), depth, value);
    try_collapse(i);
}

}  // namespace appliance
