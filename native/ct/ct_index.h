// The connection table's index: a key's hash to the session (and direction)
// holding it. Buckets of seven 8-byte entries in one cache line, each a 32-bit
// signature of the hash and the session's position; the key itself is read
// from the session (where it already is), so a lookup touches the bucket and
// the session, nothing else (VPP's bihash shape; rte_hash kept a copy of every
// key and cost most of the stage's cycles).
//
// Readers take no lock: entries are written whole (one 64-bit store) and never
// move; a session is reused only after an RCU grace period (CtTable), so a
// reader that found an entry being erased reads a session still intact. One
// writer at a time (CtTable's write lock). An insert whose bucket is full goes
// to the next one (up to kProbe buckets) and counts itself in the buckets it
// passed (`spilled`), so a lookup stops at the first bucket that spilled nothing.
#pragma once

#include <atomic>
#include <cstdint>
#include <cstring>
#include <memory>

#include <nmmintrin.h>  // crc32 (SSE4.2: DPDK's own baseline, -march=corei7)

#include "ct/ct_key.h"

namespace appliance {

class CtIndex {
public:
    static constexpr uint32_t kNone = ~0u;

    // Room for `entries` keys at half load or less.
    explicit CtIndex(uint64_t entries);
    ~CtIndex();
    CtIndex(const CtIndex&) = delete;
    CtIndex& operator=(const CtIndex&) = delete;

    // One CRC chain over the key's six words: its low bits pick the bucket,
    // all 32 are the signature (keys of one bucket differ in the rest; two
    // keys with the same CRC, one in 2^32, cost a second compare). Inline,
    // without rte_hash_crc's test of the CPU a word. (Skipping an IPv4 key's
    // zero words measured 4% slower at 64k sessions: the lookups' cache
    // misses had less time to land.)
    static uint64_t hash(const CtKey& k) {
        uint64_t w[6];
        std::memcpy(w, &k, sizeof w);
        uint64_t crc = 0x9e3779b9;
        for (uint64_t x : w) crc = _mm_crc32_u64(crc, x);
        return crc << 32 | crc;
    }
    // The bucket `hash` starts in, to prefetch before find().
    const void* home(uint64_t hash) const { return &buckets_[hash & mask_]; }
    // The value stored for a key that `same(value)` confirms, or kNone.
    template <class Same>
    uint32_t find(uint64_t hash, Same same) const;

    // Writer only. false: the probe path is full (the table counts it as full).
    bool insert(uint64_t hash, uint32_t value);
    void erase(uint64_t hash, uint32_t value);  // the entry holding exactly `value`
    uint64_t bytes() const { return (mask_ + 1) * sizeof(Bucket); }

private:
    static constexpr unsigned kSlots = 7, kProbe = 8;
    struct alignas(64) Bucket {
        std::atomic<uint64_t> slot[kSlots];  // sig << 32 | (value + 1); 0: empty
        std::atomic<uint32_t> spilled;       // entries homed earlier that went past this one
        uint32_t unused;
    };
    static_assert(sizeof(Bucket) == 64, "a bucket is one cache line");
    static uint64_t entry(uint64_t hash, uint32_t value) { return (hash >> 32) << 32 | (uint64_t(value) + 1); }

    Bucket* buckets_ = nullptr;
    uint64_t mask_ = 0;
};

template <class Same>
uint32_t CtIndex::find(uint64_t hash, Same same) const {
    const uint32_t sig = uint32_t(hash >> 32);
    uint64_t b = hash & mask_;
    for (unsigned probe = 0; probe < kProbe; ++probe, b = (b + 1) & mask_) {
        const Bucket& bucket = buckets_[b];
        for (unsigned i = 0; i < kSlots; ++i) {
            const uint64_t e = bucket.slot[i].load(std::memory_order_acquire);
            if (e != 0 && uint32_t(e >> 32) == sig && same(uint32_t(e) - 1)) return uint32_t(e) - 1;
        }
        if (bucket.spilled.load(std::memory_order_acquire) == 0) break;
    }
    return kNone;
}

}  // namespace appliance
