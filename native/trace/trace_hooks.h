// The stages' side of the trace (trace/trace.h). Each call runs only in a
// burst with WorkerContext::tracing set and writes an event for the traced
// packets it is given. Out of line and cold: the fast path's loops keep
// their size and registers; tracing off, a stage pays one predicted branch.
#pragma once

#include "core/worker.h"

namespace appliance {

#define APPLIANCE_TRACE_HOOK __attribute__((cold, noinline))

// One event for `m` if it is traced.
APPLIANCE_TRACE_HOOK void trace_note(WorkerContext& w, const rte_mbuf* m, TraceStep step, uint8_t code,
                                     uint32_t a = 0, uint32_t b = 0, const void* data = nullptr,
                                     unsigned len = 0);

// The same event (no details) for each traced packet of a burst.
APPLIANCE_TRACE_HOOK void trace_steps(WorkerContext& w, TraceStep step, rte_mbuf* const* pkts, uint16_t n,
                                      uint8_t code);

// A next hop id per packet (the lookup's, or what replaced it), with the
// next hop as the worker finds it now (its table may change after).
APPLIANCE_TRACE_HOOK void trace_ids(WorkerContext& w, TraceStep step, rte_mbuf* const* pkts, uint16_t n,
                                    const uint32_t* ids, uint8_t code, uint32_t b);
APPLIANCE_TRACE_HOOK void trace_hop(WorkerContext& w, const rte_mbuf* m, TraceStep step, uint32_t id);

// An IPv4 packet's addresses and ports as NAT left them.
APPLIANCE_TRACE_HOOK void trace_tuples(WorkerContext& w, TraceStep step, rte_mbuf* const* pkts, uint16_t n);
// (its 12 bytes: source, destination, source port, destination port; zeros: not IPv4)
void trace_tuple_of(const rte_mbuf* m, uint8_t out[12]);

// A packet about to be sent on interface `iface`: its Ethernet header (and
// tag) as it leaves, and the EtherType after the tag.
APPLIANCE_TRACE_HOOK void trace_output(WorkerContext& w, const rte_mbuf* m, uint16_t iface, bool from_slow_path);

// A tx batch sent by rte_eth_tx_burst with its traced packets' output before
// and `tx` after; returns how many the queue took (the rest are the caller's).
APPLIANCE_TRACE_HOOK uint16_t trace_tx_burst(WorkerContext& w, TxBatch& t, uint16_t iface);

}  // namespace appliance
