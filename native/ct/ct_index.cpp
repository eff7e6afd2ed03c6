#include "ct/ct_index.h"

#include <cstring>
#include <new>

#include <rte_malloc.h>

#include "core/errors.h"

namespace appliance {

CtIndex::CtIndex(uint64_t entries) {
    uint64_t buckets = 64;
    while (buckets * kSlots < 2 * entries) buckets <<= 1;  // half load at most
    buckets_ = static_cast<Bucket*>(rte_zmalloc("ct_index", buckets * sizeof(Bucket), 64));
    if (buckets_ == nullptr)
        throw ResourceError("cannot allocate the connection index (" +
                            std::to_string((buckets * sizeof(Bucket)) >> 20) + " MiB of hugepage memory)");
    mask_ = buckets - 1;
}

CtIndex::~CtIndex() { rte_free(buckets_); }

bool CtIndex::insert(uint64_t hash, uint32_t value) {
    uint64_t b = hash & mask_;
    for (unsigned probe = 0; probe < kProbe; ++probe, b = (b + 1) & mask_) {
        Bucket& bucket = buckets_[b];
        for (unsigned i = 0; i < kSlots; ++i) {
            if (bucket.slot[i].load(std::memory_order_relaxed) != 0) continue;
            // Readers may pass here now: count this entry in the buckets before first.
            for (uint64_t p = hash & mask_; p != b; p = (p + 1) & mask_)
                buckets_[p].spilled.fetch_add(1, std::memory_order_release);
            bucket.slot[i].store(entry(hash, value), std::memory_order_release);
            return true;
        }
    }
    return false;
}

void CtIndex::erase(uint64_t hash, uint32_t value) {
    const uint64_t want = entry(hash, value);
    uint64_t b = hash & mask_;
    for (unsigned probe = 0; probe < kProbe; ++probe, b = (b + 1) & mask_) {
        Bucket& bucket = buckets_[b];
        for (unsigned i = 0; i < kSlots; ++i) {
            if (bucket.slot[i].load(std::memory_order_relaxed) != want) continue;
            bucket.slot[i].store(0, std::memory_order_release);
            for (uint64_t p = hash & mask_; p != b; p = (p + 1) & mask_)
                buckets_[p].spilled.fetch_sub(1, std::memory_order_release);
            return;
        }
    }
}

}  // namespace appliance
