// Per-worker counters: one cache line aligned block per worker, written only
// by that worker with plain stores; readers sum them (torn reads of a 64-bit
// counter cannot happen on x86-64, and totals are allowed to lag).
#pragma once

#include <cstdint>

#include <rte_common.h>

#include "drop_reasons.h"

namespace appliance {

struct alignas(RTE_CACHE_LINE_SIZE) WorkerStats {
    uint64_t rx_packets = 0;
    uint64_t tx_packets = 0;
    uint64_t drops[kDropReasonCount] = {};
    // rte_rdtsc cycles spent processing non-empty bursts, and the packets in
    // them: cycles/packet like VPP's `show runtime`.
    uint64_t busy_cycles = 0;
    uint64_t busy_packets = 0;
    uint64_t loops = 0;
    uint64_t punted = 0;        // handed to the slow path
    uint64_t slow_tx = 0;       // packets the slow path made, sent by this worker
    uint64_t slow_tx_full = 0;  // ... refused by the tx queue

    void count_drop(DropReason reason, uint64_t n = 1) {
        drops[static_cast<unsigned>(reason)] += n;
    }
};

}  // namespace appliance
