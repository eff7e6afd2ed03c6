#include "worker.h"

#include <rte_cycles.h>
#include <rte_rcu_qsbr.h>

namespace appliance {

int worker_main(void* context) {
    auto& w = *static_cast<WorkerContext*>(context);
    rte_rcu_qsbr_thread_register(w.rcu, w.rcu_thread_id);
    rte_rcu_qsbr_thread_online(w.rcu, w.rcu_thread_id);
    rte_mbuf* pkts[kBurstSize];
    while (!w.stop->load(std::memory_order_relaxed)) {
        uint64_t start = 0;
        uint64_t packets = 0;
        for (const RxQueue& q : w.rx) {
            uint16_t n = rte_eth_rx_burst(q.port_id, q.queue, pkts, kBurstSize);
            if (n == 0) continue;
            if (packets == 0) start = rte_rdtsc();
            packets += n;
            forward_burst(w, pkts, n);
        }
        if (packets != 0) {
            w.stats->rx_packets += packets;
            w.stats->busy_cycles += rte_rdtsc() - start;
            w.stats->busy_packets += packets;
        }
        w.stats->loops++;
        // Every table reference of this iteration is gone: writers may reclaim.
        rte_rcu_qsbr_quiescent(w.rcu, w.rcu_thread_id);
    }
    rte_rcu_qsbr_thread_offline(w.rcu, w.rcu_thread_id);
    rte_rcu_qsbr_thread_unregister(w.rcu, w.rcu_thread_id);
    return 0;
}

}  // namespace appliance
