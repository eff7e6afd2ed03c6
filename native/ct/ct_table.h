// The connection table: sessions in a fixed array (their memory is reserved
// at start: a full table refuses new connections, never drops old ones),
// found through one lock-free index (ct/ct_index.h) by either direction's key.
//
// Why one table shared by every worker (as grout's, unlike VPP's per-thread
// tables with handoff): both directions of a connection must meet one
// session whatever queue RSS puts them on, and a reply's 5-tuple hashes to
// another queue than its request's. Readers are lock-free; workers add new sessions under a spinlock (only the first packet of a
// connection pays it). Sessions are freed by one sweeper (the
// slow path's thread, a slice of the array every 50 ms, never a worker) after
// an RCU grace period, so a worker never reads a reused session.
#pragma once

#include <atomic>
#include <cstdint>
#include <cstring>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include <rte_spinlock.h>

#include "core/rcu.h"
#include "ct/ct_index.h"
#include "ct/ct_session.h"

struct rte_ring;

namespace appliance {

struct CtInfo {
    CtKey original, reply;
    CtState state;
    uint64_t age_ms;      // since created
    uint64_t idle_ms;     // since the last packet
    uint32_t timeout_s;   // of its state
    bool translated;      // NAT: the reply's key is not the original's reversed
};

struct CtSpec {
    uint32_t max_sessions = 0;  // 0: no connection table (no interface may be stateful)
    CtTimeouts timeouts;
};

struct CtStats {
    uint64_t sessions = 0;  // live now
    uint64_t expired = 0;   // timed out or flushed, since start
    uint32_t capacity = 0;
};

class CtTable {
public:
    // `drops`: the drop next hops a refused packet's route is replaced by.
    struct DropHops { uint32_t refused, full, no_port; };
    CtTable(const std::string& name, uint32_t max_sessions, size_t ifaces, Rcu& rcu, DropHops drops);
    ~CtTable();
    CtTable(const CtTable&) = delete;
    CtTable& operator=(const CtTable&) = delete;

    // ---- workers ----
    // Some interface filters statefully: the stage runs (one load a burst).
    bool enabled() const {
        return stateful_count_.load(std::memory_order_relaxed) != 0 || nat_.load(std::memory_order_relaxed);
    }
    bool nat() const { return nat_.load(std::memory_order_relaxed); }
    bool stateful(uint16_t iface) const { return stateful_[iface].load(std::memory_order_relaxed) != 0; }
    uint32_t refused_hop() const { return drops_.refused; }
    uint32_t full_hop() const { return drops_.full; }
    uint32_t no_port_hop() const { return drops_.no_port; }
    // The session holding `k` (either direction), or nullptr.
    CtSession* lookup(const CtKey& k, CtDir* dir) const;
    // The same for n <= 64 keys at once (their cache misses overlap): out[i]
    // nullptr where none. The sessions found are prefetched.
    void lookup_bulk(const CtKey* const* keys, uint32_t n, CtSession** out, CtDir* dirs) const;
    // A new session whose original direction is `k` and whose replies come
    // as `reply` (k.reversed() unless translated); it holds NAT `mapping`
    // (released when it ends). nullptr when the table is full, or a key is taken.
    CtSession* create(const CtKey& k, const CtKey& reply, uint8_t tcp_flags, uint64_t now_ms,
                      uint32_t mapping = ~0u);
    // Its last-seen time and state after a packet of `dir` (inline: every packet).
    void touch(CtSession& s, CtDir dir, uint8_t tcp_flags, uint64_t now_ms) const {
        if (s.last_ms.load(std::memory_order_relaxed) != now_ms)  // at most a store a millisecond
            s.last_ms.store(now_ms, std::memory_order_relaxed);
        if (s.proto() == kTcp) return touch_tcp(s, dir, tcp_flags);
        constexpr auto replied = uint8_t(CtState::replied);
        if (dir == CtDir::reply && s.state.load(std::memory_order_relaxed) != replied)
            s.state.store(replied, std::memory_order_relaxed);
    }

    // ---- the sweeper (the slow path's thread) ----
    // Expires a slice of the array and frees what a grace period has passed.
    void sweep(uint64_t now_ms);

    // ---- control (any thread) ----
    void set_stateful(uint16_t iface, bool on);
    void set_nat(bool on) { nat_.store(on); }  // some interface translates
    void set_timeouts(const CtTimeouts& t);
    // Called (on the sweeper's thread) with the NAT mapping of each session that ends.
    void on_release(std::function<void(uint32_t)> release) { release_ = std::move(release); }
    CtTimeouts timeouts() const;
    // Every session gone at once (their memory freed after a grace period).
    uint64_t flush();
    std::vector<CtInfo> list(uint64_t now_ms, const std::function<bool(const CtInfo&)>& want) const;
    CtStats stats() const;
    uint32_t capacity() const { return capacity_; }

private:
    struct Retired {  // freed once `token`'s grace period is over
        uint32_t index;
        uint64_t token;
    };
    static constexpr uint8_t kTcp = 6;  // IPPROTO_TCP
    static void touch_tcp(CtSession& s, CtDir dir, uint8_t tcp_flags);  // the state machine
    static uint32_t pack(uint32_t index, CtDir dir) { return (index << 1) | uint32_t(dir); }
    // Whether index entry `value` stands for key `k` (the session's own copy).
    bool holds(uint32_t value, const CtKey& k) const { return ct_same(sessions_[value >> 1].key[value & 1], k); }
    void expire(uint32_t index, std::vector<Retired>& into);  // mutex_ held
    void reclaim();                                            // mutex_ held
    void retire_batch(std::vector<Retired>& batch);            // mutex_ held
    void release();  // the DPDK objects

    uint32_t capacity_;
    Rcu& rcu_;
    DropHops drops_;
    std::unique_ptr<CtIndex> index_;
    rte_spinlock_t write_lock_ = RTE_SPINLOCK_INITIALIZER;  // every change to index_
    rte_ring* free_ = nullptr;     // indexes of unused sessions (workers take, the sweeper gives)
    rte_ring* failed_ = nullptr;   // half-made sessions workers give up (to free after a grace period)
    CtSession* sessions_ = nullptr;
    std::unique_ptr<std::atomic<uint8_t>[]> stateful_;
    std::atomic<uint32_t> stateful_count_{0};
    std::atomic<bool> nat_{false};

    std::function<void(uint32_t)> release_;
    mutable std::mutex mutex_;  // the sweeper's state: flush and sweep take it
    CtTimeouts timeouts_;
    std::vector<Retired> retired_;
    uint32_t cursor_ = 0;
    std::atomic<uint64_t> live_{0};
    std::atomic<uint64_t> expired_{0};
};

// The workers' and the sweeper's clock: milliseconds of the TSC.
uint64_t ct_now_ms();

}  // namespace appliance
