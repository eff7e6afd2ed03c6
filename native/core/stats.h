// Per-worker counters: one cache line aligned block per worker, written only
// by that worker with plain stores; readers sum them (torn reads of a 64-bit
// counter cannot happen on x86-64, and totals are allowed to lag).
#pragma once

#include <cstdint>

#include <rte_common.h>
#include <rte_cycles.h>

#include "core/drop_reasons.h"

namespace appliance {

// The stages of a burst's way through a worker, for per-stage clocks (VPP's
// per-node clocks): rx is the rx burst call, the rest forward_burst's stages.
enum class Stage : unsigned { rx, vlan, input, ipv6, nat, lookup, rules, acl, conntrack, output, tx, count };
constexpr unsigned kStageCount = static_cast<unsigned>(Stage::count);
inline constexpr const char* kStageNames[kStageCount] = {"rx",  "vlan",      "input",  "ipv6", "nat", "lookup",
                                                         "rules", "acl", "conntrack", "output", "tx"};

struct alignas(RTE_CACHE_LINE_SIZE) WorkerStats {
    // What every loop writes first, in one cache line.
    uint64_t rx_packets = 0;
    uint64_t tx_packets = 0;
    // rte_rdtsc cycles spent processing non-empty bursts, and the packets in
    // them: cycles/packet like VPP's `show runtime`.
    uint64_t busy_cycles = 0;
    uint64_t busy_packets = 0;
    uint64_t loops = 0;
    uint64_t punted = 0;        // handed to the slow path
    uint64_t slow_tx = 0;       // packets the slow path made, sent by this worker
    uint64_t slow_tx_full = 0;  // ... refused by the tx queue
    uint64_t drops[kDropReasonCount] = {};
    // rte_rdtsc cycles per stage over non-empty bursts, when stage clocks are on.
    uint64_t stage_cycles[kStageCount] = {};
    uint64_t ct_created = 0;  // connections it started tracking

    void count_drop(DropReason reason, uint64_t n = 1) {
        drops[static_cast<unsigned>(reason)] += n;
    }
};

// Adds the cycles since the last lap to a stage; does nothing (one predicted
// branch) when the clocks are off, as they are unless asked for: a lap is an
// rdtsc, ~25 cycles a burst per stage here.
class StageClock {
public:
    explicit StageClock(WorkerStats* on) : stats_(on), last_(on != nullptr ? rte_rdtsc() : 0) {}
    void lap(Stage stage) {
        if (__builtin_expect(stats_ != nullptr, 0)) {
            const uint64_t now = rte_rdtsc();
            stats_->stage_cycles[static_cast<unsigned>(stage)] += now - last_;
            last_ = now;
        }
    }

private:
    WorkerStats* stats_;
    uint64_t last_;
};

}  // namespace appliance
