// One worker per lcore: it owns its (port, rx queue) pairs and tx queue
// `tx_queue` on every port, so nothing on its fast path is shared for write.
#pragma once

#include <atomic>
#include <cstddef>
#include <new>
#include <cstdint>
#include <vector>

#include <rte_ethdev.h>

#include "acl/acl_table.h"
#include "ct/ct_early.h"
#include "ct/ct_table.h"
#include "nat/nat_table.h"
#include "fib/fib.h"
#include "fib/fib6.h"
#include "rules/flow.h"
#include "core/mempool.h"
#include "nexthop/nexthop.h"
#include "core/punt.h"
#include "core/stats.h"
#include "iface/iface.h"
#include "trace/capture.h"
#include "trace/trace.h"
#include "vrrp/vrrp_macs.h"

struct rte_rcu_qsbr;
struct rte_ring;

namespace appliance {

// What a worker touches per burst starts on a page of its own: where the heap
// happens to put it otherwise moved the fast path by 2-10% (cache sets, 4K
// aliasing with the burst on the stack) whenever any allocation before it changed.
constexpr size_t kWorkerPage = 4096;

template <class T>
struct PageAligned {
    using value_type = T;
    PageAligned() = default;
    template <class U>
    PageAligned(const PageAligned<U>&) {}
    T* allocate(size_t n) {
        return static_cast<T*>(::operator new(n * sizeof(T), std::align_val_t(kWorkerPage)));
    }
    void deallocate(T* p, size_t) { ::operator delete(p, std::align_val_t(kWorkerPage)); }
    template <class U>
    bool operator==(const PageAligned<U>&) const { return true; }
    template <class U>
    bool operator!=(const PageAligned<U>&) const { return false; }
};

// Read-mostly state every worker looks at, written only by the control thread.
struct Tables {
    // Per interface: the tables of its VRF (vrf/vrfs.h), looked up for what it receives.
    const Fib* const* fib;
    const Fib6* const* fib6;
    const FlowTable* flows;
    const FlowTable6* flows6;
    const NextHopTable* hops;
    const AclTable* acls;
    const uint8_t* kernel_ifaces;  // per interface: 1 if it has a kernel interface
    bool verify_checksum;
    bool stage_clocks;  // rdtsc per stage into WorkerStats::stage_cycles
    bool avx512_input;  // stage 1 tests eight headers at a time (ipv4_input_x8.h)
    // (Above: what every burst reads, in one cache line.)
    CtTable* ct;                   // nullptr: no connection tracking (no conntrack section)
    NatTable* nat;                 // with ct: the NAT rules and mappings
    const uint16_t* iface_vrf;     // per interface: its VRF's index
    const std::atomic<Capture*>* capture;  // the running capture (trace/capture.h), or nullptr
    const std::atomic<Trace*>* trace;      // the running trace (trace/trace.h), or nullptr
    const VrrpMacs* vrrp;                  // per interface: VRRP masters' virtual MACs
};

struct RxQueue {
    uint16_t port_id;
    uint16_t queue;
    uint16_t port_index;
    uint64_t mac;  // the port's MAC as the first 6 bytes of a frame read little-endian
    bool kernel;   // the interface has a kernel interface (link-local multicast goes to it)
    // Ports with sub-interfaces: VLAN id -> interface index (kUnknownVlan:
    // none); the VLAN stage then sets port_index per frame. nullptr: none.
    const uint16_t* vlan_ifaces = nullptr;
};

// Packets of one burst bound for one port, sent with one rte_eth_tx_burst.
struct alignas(RTE_CACHE_LINE_SIZE) TxBatch {
    rte_mbuf* pkts[kBurstSize];
    uint16_t n = 0;
    uint16_t port_id = 0;
};

struct alignas(kWorkerPage) WorkerContext {
    unsigned lcore = 0;
    unsigned index = 0;  // 0..workers-1: this worker's block of per-worker counters
    unsigned rcu_thread_id = 0;
    rte_rcu_qsbr* rcu = nullptr;
    Tables tables{};
    std::vector<RxQueue, PageAligned<RxQueue>> rx;
    uint16_t tx_queue = 0;
    std::vector<TxBatch, PageAligned<TxBatch>> tx;  // indexed by port index
    WorkerStats* stats = nullptr;
    IfaceCounters* ifaces = nullptr;  // per interface (sub-interfaces' counters)
    const std::atomic<bool>* stop = nullptr;
    rte_ring* punt = nullptr;     // to the slow path (this worker produces)
    rte_ring* returns = nullptr;  // from the slow path, sent on this worker's tx queues
    TokenBucket icmp_budget;      // packets that would only earn an ICMP error
    CtEarly ct_early;             // NAT prerouting's findings for the burst (ct/ct_stage.h)
    const Capture* capture = nullptr;  // *tables.capture, read once a loop (nullptr: none runs)
    Trace* trace = nullptr;            // *tables.trace, the same way
    bool tracing = false;              // the burst being forwarded holds a traced packet
};

// The lcore entry point (rte_eal_remote_launch): loops until *stop.
int worker_main(void* context);

// The burst pipeline: every packet ends transmitted or counted as a drop.
void forward_burst(WorkerContext& w, const RxQueue& q, rte_mbuf** pkts, uint16_t n);
// Its part for frames of one interface (q.port_index), up to the tx batches.
void route_burst(WorkerContext& w, const RxQueue& q, rte_mbuf** pkts, uint16_t n, StageClock& clock);

}  // namespace appliance
