#include "core/worker.h"

#include "core/exceptions.h"
#include "trace/trace_hooks.h"

#include <rte_cycles.h>
#include <rte_rcu_qsbr.h>
#include <rte_ring.h>

namespace appliance {

namespace {

// What the slow path asks this worker to send: resolved held packets and
// fragments (transit, counted as tx or tx_full like the fast path's) and
// packets it made (ARP, ICMP), counted apart.
void send_returns(WorkerContext& w) {
    rte_mbuf* pkts[kBurstSize];
    const unsigned n = rte_ring_sc_dequeue_burst(w.returns, reinterpret_cast<void**>(pkts),
                                                 kBurstSize, nullptr);
    for (unsigned i = 0; i < n; ++i) {
        const PacketMeta meta = get_meta(pkts[i]);
        if (unlikely(w.capture != nullptr) && w.capture->wants(meta.port, kCaptureOut))
            w.capture->take(&pkts[i], 1, meta.port, kCaptureOut, uint16_t(w.index));
        // (The slow path sets every packet's trace id: those it made carry the one they answer.)
        const uint32_t traced = unlikely(w.trace != nullptr) ? trace_id(pkts[i]) : 0;
        w.tracing = traced != 0;
        if (traced != 0) trace_output(w, pkts[i], meta.port, true);
        const bool sent = rte_eth_tx_burst(w.tx[meta.port].port_id, w.tx_queue, &pkts[i], 1) == 1;
        if (traced != 0 && sent) w.trace->note(w.index, traced, TraceStep::tx, 1);
        if (meta.generated) {
            if (!sent) rte_pktmbuf_free(pkts[i]);
            (sent ? w.stats->slow_tx : w.stats->slow_tx_full)++;
        } else if (sent) {
            w.stats->tx_packets++;
        } else {
            drop_packet(w, pkts[i], DropReason::tx_full, meta.port);
        }
    }
    w.tracing = false;
}

}  // namespace

int worker_main(void* context) {
    auto& w = *static_cast<WorkerContext*>(context);
    rte_rcu_qsbr_thread_register(w.rcu, w.rcu_thread_id);
    rte_rcu_qsbr_thread_online(w.rcu, w.rcu_thread_id);
    rte_mbuf* pkts[kBurstSize];
    while (!w.stop->load(std::memory_order_relaxed)) {
        uint64_t start = 0;
        uint64_t packets = 0;
        w.capture = w.tables.capture->load(std::memory_order_acquire);  // until the quiescent point below
        Trace* trace = w.tables.trace->load(std::memory_order_acquire);
        if (unlikely(trace != w.trace)) {  // (none: no burst is flagged, nothing more to do)
            w.trace = trace;
            w.tracing = false;
        }
        for (const RxQueue& q : w.rx) {
            StageClock rx_clock(w.tables.stage_clocks ? w.stats : nullptr);
            uint16_t n = rte_eth_rx_burst(q.port_id, q.queue, pkts, kBurstSize);
            if (n == 0) continue;
            rx_clock.lap(Stage::rx);
            if (unlikely(w.capture != nullptr) && w.capture->wants(q.port_index, kCaptureIn))
                w.capture->take(pkts, n, q.port_index, kCaptureIn, uint16_t(w.index));
            if (unlikely(w.trace != nullptr)) w.tracing = w.trace->choose(w.index, q.port_index, q.queue, pkts, n);
            if (packets == 0) start = rte_rdtsc();
            packets += n;
            forward_burst(w, q, pkts, n);
        }
        if (packets != 0) {
            w.stats->rx_packets += packets;
            w.stats->busy_cycles += rte_rdtsc() - start;
            w.stats->busy_packets += packets;
        }
        if (w.returns != nullptr && unlikely(!rte_ring_empty(w.returns))) send_returns(w);
        w.stats->loops++;
        // Every table reference of this iteration is gone: writers may reclaim.
        rte_rcu_qsbr_quiescent(w.rcu, w.rcu_thread_id);
    }
    // What the slow path still queued for us goes out before we stop.
    while (w.returns != nullptr && !rte_ring_empty(w.returns)) send_returns(w);
    rte_rcu_qsbr_thread_offline(w.rcu, w.rcu_thread_id);
    rte_rcu_qsbr_thread_unregister(w.rcu, w.rcu_thread_id);
    return 0;
}

}  // namespace appliance
