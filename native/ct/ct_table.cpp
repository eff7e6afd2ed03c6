#include "ct/ct_table.h"

#include <rte_cycles.h>
#include <rte_prefetch.h>
#include <rte_errno.h>
#include <rte_hash.h>
#include <rte_hash_crc.h>
#include <rte_malloc.h>
#include <rte_ring.h>
#include <rte_ring_elem.h>

#include "core/errors.h"

namespace appliance {

namespace {
constexpr uint32_t kSweepSlices = 100;  // the whole array in 100 sweeps (5 s at 20 a second)

struct Failed {  // a half-made session a worker gave up: its one key's position
    int32_t pos;
    uint32_t index;
};
}  // namespace

uint64_t ct_now_ms() {
    static const uint64_t per_ms = rte_get_tsc_hz() / 1000;
    return rte_rdtsc() / per_ms;
}

CtTable::CtTable(const std::string& name, uint32_t max_sessions, size_t ifaces, Rcu& rcu, DropHops drops)
    : capacity_(max_sessions),
      rcu_(rcu),
      drops_(drops),
      stateful_(new std::atomic<uint8_t>[ifaces]()) {
    if (max_sessions < 16 || max_sessions > (1u << 26))
        throw ResourceError("conntrack.max_sessions must be 16..67108864");
    rte_hash_parameters p{};
    const std::string hash_name = "ct_" + name;
    p.name = hash_name.c_str();
    p.entries = 2 * max_sessions;  // a key per direction
    p.key_len = sizeof(CtKey);
    p.hash_func = rte_hash_crc;
    p.socket_id = SOCKET_ID_ANY;
    // Lock-free readers; writers (each worker adds, the sweeper deletes and
    // frees key slots after a grace period) take write_lock_. Not the
    // library's multi-writer mode: its per-lcore slot caches need every writer
    // to be an EAL thread, and registering the sweeper's would stop
    // dpdk-dumpcap from attaching (see SlowPath::run).
    p.extra_flag = RTE_HASH_EXTRA_FLAGS_RW_CONCURRENCY_LF | RTE_HASH_EXTRA_FLAGS_EXT_TABLE;
    hash_ = rte_hash_create(&p);
    sessions_ = static_cast<CtSession*>(
        rte_zmalloc("ct_sessions", sizeof(CtSession) * uint64_t(max_sessions), RTE_CACHE_LINE_SIZE));
    const std::string free_name = "ctf_" + name, failed_name = "ctx_" + name;
    free_ = rte_ring_create_elem(free_name.c_str(), sizeof(uint32_t), rte_align32pow2(max_sessions + 1),
                                 SOCKET_ID_ANY, 0);
    failed_ = rte_ring_create_elem(failed_name.c_str(), sizeof(Failed), 1024, SOCKET_ID_ANY, RING_F_SC_DEQ);
    if (hash_ == nullptr || sessions_ == nullptr || free_ == nullptr || failed_ == nullptr) {
        const std::string why = dpdk_strerror(rte_errno);
        release();
        throw ResourceError("cannot make the connection table for " + std::to_string(max_sessions) +
                            " sessions (" + std::to_string((uint64_t(max_sessions) * 256) >> 20) +
                            " MiB of hugepage memory): " + why);
    }
    for (uint32_t i = 0; i < max_sessions; ++i) rte_ring_enqueue_elem(free_, &i, sizeof i);
}

CtTable::~CtTable() { release(); }

void CtTable::release() {
    rte_hash_free(hash_);
    rte_free(sessions_);
    rte_ring_free(free_);
    rte_ring_free(failed_);
    hash_ = nullptr;
    sessions_ = nullptr;
    free_ = failed_ = nullptr;
}

CtSession* CtTable::lookup(const CtKey& k, CtDir* dir) const {
    void* data = nullptr;
    if (rte_hash_lookup_data(hash_, &k, &data) < 0) return nullptr;
    const uintptr_t v = reinterpret_cast<uintptr_t>(data);
    *dir = CtDir(v & 1);
    return &sessions_[v >> 1];
}

void CtTable::lookup_bulk(const CtKey* const* keys, uint32_t n, CtSession** out, CtDir* dirs) const {
    void* data[RTE_HASH_LOOKUP_BULK_MAX];
    uint64_t hits = 0;
    rte_hash_lookup_bulk_data(hash_, reinterpret_cast<const void**>(const_cast<const CtKey**>(keys)), n,
                              &hits, data);
    for (uint32_t i = 0; i < n; ++i) {
        if (!(hits & (uint64_t(1) << i))) {
            out[i] = nullptr;
            continue;
        }
        const uintptr_t v = reinterpret_cast<uintptr_t>(data[i]);
        dirs[i] = CtDir(v & 1);
        out[i] = &sessions_[v >> 1];
        rte_prefetch0(out[i]);
    }
}

CtSession* CtTable::create(const CtKey& k, const CtKey& reply, uint8_t tcp_flags, uint64_t now_ms,
                           uint32_t mapping) {
    uint32_t index;
    if (rte_ring_mc_dequeue_elem(free_, &index, sizeof index) != 0) return nullptr;
    CtSession& s = sessions_[index];
    s.key[0] = k;
    s.key[1] = reply;
    s.proto = k.proto;
    s.mapping = mapping;
    const CtKey same = k.reversed();
    s.translated = std::memcmp(&reply, &same, sizeof same) != 0;
    s.state.store(uint8_t(ct_first_state(k.proto, tcp_flags)), std::memory_order_relaxed);
    s.fins.store(0, std::memory_order_relaxed);
    s.last_ms.store(now_ms, std::memory_order_relaxed);
    s.created_ms = now_ms;
    // Published by the adds (release in the hash): the fields above first.
    rte_spinlock_lock(&write_lock_);
    if (rte_hash_add_key_data(hash_, &s.key[0], reinterpret_cast<void*>(pack(index, CtDir::original))) < 0) {
        rte_spinlock_unlock(&write_lock_);
        rte_ring_mp_enqueue_elem(free_, &index, sizeof index);  // nobody saw it
        return nullptr;
    }
    if (rte_hash_add_key_data(hash_, &s.key[1], reinterpret_cast<void*>(pack(index, CtDir::reply))) < 0) {
        // A reader may have found the first key: the sweeper frees it after a grace period.
        Failed f{rte_hash_del_key(hash_, &s.key[0]), index};
        rte_spinlock_unlock(&write_lock_);
        while (rte_ring_mp_enqueue_elem(failed_, &f, sizeof f) != 0) rte_pause();
        return nullptr;
    }
    rte_spinlock_unlock(&write_lock_);
    s.live.store(1, std::memory_order_release);
    live_.fetch_add(1, std::memory_order_relaxed);
    return &s;
}

void CtTable::touch(CtSession& s, CtDir dir, uint8_t tcp_flags, uint64_t now_ms) const {
    if (s.last_ms.load(std::memory_order_relaxed) != now_ms)  // at most a store a millisecond
        s.last_ms.store(now_ms, std::memory_order_relaxed);
    const auto now = CtState(s.state.load(std::memory_order_relaxed));
    uint8_t fins = s.fins.load(std::memory_order_relaxed);
    const uint8_t fins_before = fins;
    const CtState next = ct_next_state(now, s.proto, dir, tcp_flags, &fins);
    if (next != now) s.state.store(uint8_t(next), std::memory_order_relaxed);
    if (fins != fins_before) s.fins.store(fins, std::memory_order_relaxed);
}

void CtTable::expire(uint32_t index, std::vector<Retired>& into) {
    CtSession& s = sessions_[index];
    s.live.store(0, std::memory_order_relaxed);
    Retired r{{-1, -1}, index, 0};
    rte_spinlock_lock(&write_lock_);
    for (unsigned d = 0; d < 2; ++d) {
        // Only this session's own entry (a racing create may have taken the key).
        void* data = nullptr;
        if (rte_hash_lookup_data(hash_, &s.key[d], &data) >= 0 &&
            reinterpret_cast<uintptr_t>(data) == pack(index, CtDir(d)))
            r.pos[d] = rte_hash_del_key(hash_, &s.key[d]);
    }
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
        const Retired& r = retired_[done];
        rte_spinlock_lock(&write_lock_);
        for (int32_t pos : r.pos)
            if (pos >= 0) rte_hash_free_key_with_position(hash_, pos);
        rte_spinlock_unlock(&write_lock_);
        uint32_t index = r.index;
        rte_ring_mp_enqueue_elem(free_, &index, sizeof index);
    }
    retired_.erase(retired_.begin(), retired_.begin() + long(done));
}

void CtTable::sweep(uint64_t now_ms) {
    std::lock_guard<std::mutex> lock(mutex_);
    reclaim();
    std::vector<Retired> batch;
    Failed f;
    while (rte_ring_sc_dequeue_elem(failed_, &f, sizeof f) == 0) batch.push_back({{f.pos, -1}, f.index, 0});
    const uint32_t slice = std::max<uint32_t>(1024, capacity_ / kSweepSlices);
    for (uint32_t n = 0; n < slice && n < capacity_; ++n, cursor_ = cursor_ + 1 == capacity_ ? 0 : cursor_ + 1) {
        CtSession& s = sessions_[cursor_];
        if (!s.live.load(std::memory_order_acquire)) continue;
        const auto state = CtState(s.state.load(std::memory_order_relaxed));
        const uint64_t last = s.last_ms.load(std::memory_order_relaxed);
        const uint64_t timeout_ms = uint64_t(timeouts_.of(state, s.proto)) * 1000;
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
