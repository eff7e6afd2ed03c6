#include "ct/ct_table.h"

#include <rte_cycles.h>
#include <rte_prefetch.h>
#include <rte_errno.h>
#include <rte_hash_crc.h>
#include <rte_malloc.h>
#include <rte_ring.h>
#include <rte_ring_elem.h>

#include "core/errors.h"

namespace appliance {

namespace {
constexpr uint32_t kSweepSlices = 100;  // the whole array in 100 sweeps (5 s at 20 a second)

}  // namespace

uint64_t ct_now_ms() {
    // A multiply, not a division (40 cycles a burst): 2^64 / cycles a millisecond.
    static const uint64_t per_cycle = uint64_t(((unsigned __int128)1 << 64) / (rte_get_tsc_hz() / 1000));
    return uint64_t(((unsigned __int128)rte_rdtsc() * per_cycle) >> 64);
}

CtTable::CtTable(const std::string& name, uint32_t max_sessions, size_t ifaces, Rcu& rcu, DropHops drops)
    : capacity_(max_sessions),
      rcu_(rcu),
      drops_(drops),
      stateful_(new std::atomic<uint8_t>[ifaces]()) {
    if (max_sessions < 16 || max_sessions > (1u << 26))
        throw ResourceError("conntrack.max_sessions must be 16..67108864");
    try {
        index_ = std::make_unique<CtIndex>(2 * uint64_t(max_sessions));  // a key per direction
    } catch (const ResourceError&) {
        throw ResourceError("cannot make the connection table for " + std::to_string(max_sessions) +
                            " sessions: no hugepage memory for its index");
    }
    sessions_ = static_cast<CtSession*>(
        rte_zmalloc("ct_sessions", sizeof(CtSession) * uint64_t(max_sessions), RTE_CACHE_LINE_SIZE));
    const std::string free_name = "ctf_" + name, failed_name = "ctx_" + name;
    free_ = rte_ring_create_elem(free_name.c_str(), sizeof(uint32_t), rte_align32pow2(max_sessions + 1),
                                 SOCKET_ID_ANY, 0);
    failed_ = rte_ring_create_elem(failed_name.c_str(), sizeof(uint32_t), 1024, SOCKET_ID_ANY, RING_F_SC_DEQ);
    if (sessions_ == nullptr || free_ == nullptr || failed_ == nullptr) {
        const std::string why = dpdk_strerror(rte_errno);
        release();
        throw ResourceError("cannot make the connection table for " + std::to_string(max_sessions) +
                            " sessions (" + std::to_string((uint64_t(max_sessions) * 280) >> 20) +
                            " MiB of hugepage memory): " + why);
    }
    for (uint32_t i = 0; i < max_sessions; ++i) rte_ring_enqueue_elem(free_, &i, sizeof i);
}

CtTable::~CtTable() { release(); }

void CtTable::release() {
    rte_free(sessions_);
    rte_ring_free(free_);
    rte_ring_free(failed_);
    sessions_ = nullptr;
    free_ = failed_ = nullptr;
}

CtSession* CtTable::lookup(const CtKey& k, CtDir* dir) const {
    const uint32_t v = index_->find(CtIndex::hash(k), [&](uint32_t value) { return holds(value, k); });
    if (v == CtIndex::kNone) return nullptr;
    *dir = CtDir(v & 1);
    return &sessions_[v >> 1];
}

void CtTable::lookup_bulk(const CtKey* const* keys, uint32_t n, CtSession** out, CtDir* dirs) const {
    // Hashes first and their buckets fetched, so the burst's misses overlap;
    // then each bucket's candidate session fetched before its key is compared.
    uint64_t hashes[64];
    for (uint32_t i = 0; i < n; ++i) {
        hashes[i] = CtIndex::hash(*keys[i]);
        rte_prefetch0(index_->home(hashes[i]));
    }
    for (uint32_t i = 0; i < n; ++i) {
        const uint32_t v = index_->find(hashes[i], [&](uint32_t value) {
            const auto* line = reinterpret_cast<const char*>(&sessions_[value >> 1]);
            rte_prefetch0(line);  // its state and original key
            if (value & 1) rte_prefetch0(line + RTE_CACHE_LINE_SIZE);  // the reply's key
            return true;  // (the first signature match; confirmed below)
        });
        out[i] = v == CtIndex::kNone ? nullptr : &sessions_[v >> 1];
        dirs[i] = CtDir(v & 1);
    }
    for (uint32_t i = 0; i < n; ++i) {
        if (out[i] == nullptr) continue;
        const uint32_t v = uint32_t(out[i] - sessions_) << 1 | uint32_t(dirs[i]);
        if (holds(v, *keys[i])) continue;
        // Another key with the same signature: the full search.
        CtDir dir = CtDir::original;
        out[i] = lookup(*keys[i], &dir);
        dirs[i] = dir;
    }
}

CtSession* CtTable::create(const CtKey& k, const CtKey& reply, uint8_t tcp_flags, uint64_t now_ms,
                           uint32_t mapping) {
    uint32_t index;
    if (rte_ring_mc_dequeue_elem(free_, &index, sizeof index) != 0) return nullptr;
    CtSession& s = sessions_[index];
    s.key[0] = k;
    s.key[1] = reply;
    s.mapping = mapping;
    const CtKey same = k.reversed();
    s.translated = std::memcmp(&reply, &same, sizeof same) != 0;
    s.state.store(uint8_t(ct_first_state(k.proto, tcp_flags)), std::memory_order_relaxed);
    s.fins.store(0, std::memory_order_relaxed);
    s.last_ms.store(now_ms, std::memory_order_relaxed);
    s.created_ms = now_ms;
    // Published by the inserts (release stores): the fields above first. A key
    // already there (another session's) refuses the new one.
    const uint64_t h0 = CtIndex::hash(s.key[0]), h1 = CtIndex::hash(s.key[1]);
    rte_spinlock_lock(&write_lock_);
    const auto taken = [&](uint64_t h, const CtKey& k) {
        return index_->find(h, [&](uint32_t value) { return holds(value, k); }) != CtIndex::kNone;
    };
    if (taken(h0, s.key[0]) || taken(h1, s.key[1]) || !index_->insert(h0, pack(index, CtDir::original))) {
        rte_spinlock_unlock(&write_lock_);
        rte_ring_mp_enqueue_elem(free_, &index, sizeof index);  // nobody saw it
        return nullptr;
    }
    if (!index_->insert(h1, pack(index, CtDir::reply))) {
        // A reader may have found the first key: the sweeper frees it after a grace period.
        index_->erase(h0, pack(index, CtDir::original));
        rte_spinlock_unlock(&write_lock_);
        while (rte_ring_mp_enqueue_elem(failed_, &index, sizeof index) != 0) rte_pause();
        return nullptr;
    }
    rte_spinlock_unlock(&write_lock_);
    s.live.store(1, std::memory_order_release);
    live_.fetch_add(1, std::memory_order_relaxed);
    return &s;
}

void CtTable::touch_tcp(CtSession& s, CtDir dir, uint8_t tcp_flags) {
    const auto now = CtState(s.state.load(std::memory_order_relaxed));
    uint8_t fins = s.fins.load(std::memory_order_relaxed);
    const uint8_t fins_before = fins;
    const CtState next = ct_next_state(now, s.proto(), dir, tcp_flags, &fins);
    if (next != now) s.state.store(uint8_t(next), std::memory_order_relaxed);
    if (fins != fins_before) s.fins.store(fins, std::memory_order_relaxed);
}

void CtTable::expire(uint32_t index, std::vector<Retired>& into) {
    CtSession& s = sessions_[index];
    s.live.store(0, std::memory_order_relaxed);
    Retired r{index, 0};
    rte_spinlock_lock(&write_lock_);
    for (unsigned d = 0; d < 2; ++d) index_->erase(CtIndex::hash(s.key[d]), pack(index, CtDir(d)));
    rte_spinlock_unlock(&write_lock_);
    if (s.mapping != ~0u && release_) release_(s.mapping);
    s.mapping = ~0u;
    into.push_back(r);
    live_.fetch_sub(1, std::memory_order_relaxed);
    expired_.fetch_add(1, std::memory_order_relaxed);
}

void CtTable::retire_batch(std::vector<Retired>& batch) {
    if (batch.empty()) return;
    const uint64_t token = rcu_.start();  // after every delete of the batch
    for (Retired& r : batch) {
        r.token = token;
        retired_.push_back(r);
    }
    batch.clear();
}

void CtTable::reclaim() {
    size_t done = 0;
    for (; done < retired_.size() && rcu_.passed(retired_[done].token); ++done) {
        uint32_t index = retired_[done].index;
        rte_ring_mp_enqueue_elem(free_, &index, sizeof index);
    }
    retired_.erase(retired_.begin(), retired_.begin() + long(done));
}

void CtTable::sweep(uint64_t now_ms) {
    std::lock_guard<std::mutex> lock(mutex_);
    reclaim();
    std::vector<Retired> batch;
    uint32_t failed;
    while (rte_ring_sc_dequeue_elem(failed_, &failed, sizeof failed) == 0) batch.push_back({failed, 0});
    const uint32_t slice = std::max<uint32_t>(1024, capacity_ / kSweepSlices);
    for (uint32_t n = 0; n < slice && n < capacity_; ++n, cursor_ = cursor_ + 1 == capacity_ ? 0 : cursor_ + 1) {
        CtSession& s = sessions_[cursor_];
        if (!s.live.load(std::memory_order_acquire)) continue;
        const auto state = CtState(s.state.load(std::memory_order_relaxed));
        const uint64_t last = s.last_ms.load(std::memory_order_relaxed);
        const uint64_t timeout_ms = uint64_t(timeouts_.of(state, s.proto())) * 1000;
        if (now_ms > last && now_ms - last > timeout_ms) expire(cursor_, batch);
    }
    retire_batch(batch);
}

uint64_t CtTable::flush() {
    std::lock_guard<std::mutex> lock(mutex_);
    std::vector<Retired> batch;
    for (uint32_t i = 0; i < capacity_; ++i)
        if (sessions_[i].live.load(std::memory_order_acquire)) expire(i, batch);
    const uint64_t n = batch.size();
    retire_batch(batch);
    return n;
}

void CtTable::set_stateful(uint16_t iface, bool on) {
    const uint8_t was = stateful_[iface].exchange(on ? 1 : 0);
    if (was && !on) stateful_count_.fetch_sub(1);
    if (!was && on) stateful_count_.fetch_add(1);
}

void CtTable::set_timeouts(const CtTimeouts& t) {
    std::lock_guard<std::mutex> lock(mutex_);
    timeouts_ = t;
}

CtTimeouts CtTable::timeouts() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return timeouts_;
}

std::vector<CtInfo> CtTable::list(uint64_t now_ms, const std::function<bool(const CtInfo&)>& want) const {
    std::lock_guard<std::mutex> lock(mutex_);  // (no session is freed meanwhile)
    std::vector<CtInfo> out;
    for (uint32_t i = 0; i < capacity_; ++i) {
        const CtSession& s = sessions_[i];
        if (!s.live.load(std::memory_order_acquire)) continue;
        const auto state = CtState(s.state.load(std::memory_order_relaxed));
        const uint64_t last = s.last_ms.load(std::memory_order_relaxed);
        CtInfo info{s.key[0], s.key[1], state, now_ms - std::min(now_ms, s.created_ms),
                    now_ms - std::min(now_ms, last), timeouts_.of(state, s.key[0].proto),
                    s.translated != 0};
        if (want(info)) out.push_back(info);
    }
    return out;
}

CtStats CtTable::stats() const {
    return {live_.load(std::memory_order_relaxed), expired_.load(std::memory_order_relaxed), capacity_};
}

}  // namespace appliance
