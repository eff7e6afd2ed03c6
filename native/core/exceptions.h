// What a worker does not forward itself: handed to the slow path on the
// worker's punt ring, or dropped and counted here.
#pragma once

#include "core/worker.h"
#include "trace/trace_hooks.h"

namespace appliance {

// A packet the worker will not send: counted under `why`, offered to a
// capture of drops, freed. `iface`: where it came in (tx_full: where it was to leave).
inline void drop_packet(WorkerContext& w, rte_mbuf* m, DropReason why, uint16_t iface) {
    w.stats->count_drop(why);
    if (unlikely(w.tracing)) trace_note(w, m, TraceStep::drop, uint8_t(why), iface);
    if (unlikely(w.capture != nullptr) && w.capture->wants_drop(iface, why))
        w.capture->take(&m, 1, iface, kCaptureDrops, uint16_t(w.index), why);
    rte_pktmbuf_free(m);
}

// Hands a packet to the slow path; a full ring is a counted drop, never a wait.
void punt(WorkerContext& w, rte_mbuf* m, PuntKind kind, uint16_t port_index, uint32_t hop);

// A packet that would only earn an ICMP error: punted while the worker's
// budget lasts, else dropped here under its reason.
void punt_for_error(WorkerContext& w, rte_mbuf* m, DropReason why, uint16_t port_index,
                    uint32_t hop, PuntKind kind);

// A routed packet whose next hop (`hop`: nullptr when there is none) does
// not forward, or that is over the egress MTU: drop, or punt (our own
// addresses, unresolved neighbours, ICMP errors, IPv4 fragmentation).
// `routed` is PuntKind::ipv4_routed or ipv6_routed.
void output_exception(WorkerContext& w, rte_mbuf* m, uint16_t in_port, uint32_t id,
                      const NextHop* hop, PuntKind routed);

// A packet whose route names an equal-cost group takes member `id`.
void output_member(WorkerContext& w, rte_mbuf* m, uint16_t in_port, uint32_t id, PuntKind routed);

}  // namespace appliance
