// The data plane as one object: ports, pools, tables and workers, built
// from a spec, started and stopped by the control thread, and what is common
// to every feature (the one writer lock, stats, ring-port I/O). The features'
// control calls are in their own classes, all serialized by that lock: the
// tables have exactly one writer.
#pragma once

#include <atomic>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "acl/acl_table.h"
#include "acl/acls.h"
#include "ct/control.h"
#include "ct/ct_table.h"
#include "nat/control.h"
#include "core/control.h"
#include "core/mempool.h"
#include "core/port.h"
#include "core/rcu.h"
#include "core/worker.h"
#include "fib/fib.h"
#include "fib/fib6.h"
#include "fib/routes.h"
#include "iface/iface.h"
#include "kernel/control.h"
#include "kernel/kernel_routes.h"
#include "kernel/route_sync.h"
#include "nexthop/nexthop.h"
#include "nexthop/nexthops.h"
#include "rules/flow.h"
#include "rules/rules.h"
#include "slowpath/control.h"
#include "slowpath/slowpath.h"
#include "trace/control.h"
#include "trace/trace_control.h"
#include "vrrp/control.h"
#include "vrf/vrfs.h"

namespace appliance {

// Mirror a kernel routing table (routes via the ports' kernel interfaces).
struct RouteSyncSpec {
    bool enabled = false;
    uint32_t table = 254;             // RT_TABLE_MAIN
    std::vector<uint8_t> protocols;   // RTPROT_* numbers; empty: all but the kernel's own
    int receive_buffer = 256 << 20;   // for a full table's burst of changes; overruns resync
};

struct DataplaneSpec {
    std::string name = "dp";
    std::vector<PortSpec> ports;
    std::vector<VlanSpec> vlans;  // sub-interfaces: interfaces after the ports, in this order
    std::vector<std::string> vrfs;  // besides the default one; interfaces name theirs
    std::vector<unsigned> worker_lcores;  // empty: every EAL worker lcore
    uint32_t max_routes = 1u << 20;  // the table sizes of each VRF
    uint32_t tbl8_groups = 1u << 16;
    uint32_t max_routes6 = 1u << 16;
    uint32_t tbl8_groups6 = 1u << 14;
    uint32_t max_nexthops = 4096;
    uint32_t max_rules = 1u << 16;
    uint32_t max_acl_entries = 1u << 16;  // per ACL
    uint64_t acl_max_bytes = 1ull << 30;  // run-time memory of one ACL context; 0: no limit
    bool verify_checksum = true;
    bool stage_clocks = false;
    // The widest SIMD the fast path may use (128, 256, 512); the EAL's limit
    // (--force-max-simd-bitwidth) and the CPU cap it too.
    uint16_t max_simd_bitwidth = 512;
    uint64_t mbufs = 0;  // 0: sized by mbufs_needed() per socket
    SlowPathConfig slow;
    std::vector<RaSpec> ra;  // the interfaces that send router advertisements
    CtSpec conntrack;
    RouteSyncSpec route_sync;
};

struct WorkerSnapshot {
    unsigned lcore;
    std::vector<std::pair<std::string, uint16_t>> rx_queues;  // (port name, queue)
    WorkerStats stats;
};

struct MempoolSnapshot {
    std::string name;
    int socket;
    unsigned size, in_use;
};

// The features' control calls, one class each, all handed the same context
// (the writer lock, the open check, ports by name). Each class and its
// binding live in the feature's folder; a feature's new call touches only it.
struct Controls {
    // `kernel`: per VRF, its mirrored kernel table (nullptr: none); `syncs`: theirs.
    Controls(ControlContext context, const Vrfs& vrfs, NextHopTable& hops, FlowTable& flows,
             FlowTable6& flows6, SlowPath& slow, std::vector<KernelRouteTable*> kernel,
             std::vector<RouteSync*> syncs, AclTable& acl_table, uint32_t max_acl_entries,
             CtTable* ct, NatTable* nat, CaptureSlot& capture_slot, TraceSlot& trace_slot,
             unsigned workers, Rcu& rcu, const std::string& tag)
        : context(std::move(context)),
          routes(this->context, vrfs, slow, kernel),
          nexthops(this->context, hops, slow),
          rules(this->context, flows, flows6),
          slowpath(this->context, slow),
          kernel_routes(this->context, std::move(kernel), std::move(syncs)),
          acls(this->context, acl_table, max_acl_entries),
          conntrack(this->context, ct),
          nat(this->context, ct, nat),
          capture(this->context, capture_slot, rcu, tag),
          trace(this->context, trace_slot, rcu, workers),
          vrrp(this->context, slow) {}

    const ControlContext context;
    RouteControl routes;            // fib/routes.h
    NextHopControl nexthops;        // nexthop/nexthops.h
    RuleControl rules;              // rules/rules.h
    SlowPathControl slowpath;       // slowpath/control.h: addresses, neighbours
    KernelRouteControl kernel_routes;  // kernel/control.h: route sync
    AclControl acls;                // acl/acls.h: access control lists
    CtControl conntrack;            // ct/control.h: connection tracking
    NatControl nat;                 // nat/control.h: NAT44 rules, mappings
    CaptureControl capture;         // trace/control.h: packet capture
    TraceControl trace;             // trace/trace_control.h: per-packet trace
    VrrpControl vrrp;               // vrrp/control.h: virtual routers
};

class Dataplane {
public:
    explicit Dataplane(const DataplaneSpec& spec);
    ~Dataplane();
    Dataplane(const Dataplane&) = delete;
    Dataplane& operator=(const Dataplane&) = delete;

    void start();
    void stop();   // workers finish their loop and flush, then ports stop
    void close();  // stop and free everything; later calls raise StateError
    bool running() const { return running_; }
    bool closed() const { return closed_; }
    // Stage 1 tests eight headers per AVX-512 instruction (else one by one).
    bool avx512_input() const;
    const DataplaneSpec& spec() const { return spec_; }

    // Each feature's control calls (see Controls below).
    Controls& controls() { return *controls_; }

    // Observability.
    std::vector<WorkerSnapshot> worker_stats();
    std::vector<PortState> port_states();
    std::vector<IfaceSnapshot> interfaces();  // every L3 interface and its counters
    std::map<std::string, std::map<std::string, uint64_t>> port_counters();
    std::vector<MempoolSnapshot> mempools();
    const std::string& port_name(uint16_t index) const { return controls_->context.port_name(index); }
    const std::string& vrf_name(uint16_t vrf) const { return vrfs_->name(vrf); }

    // Ring ports: push frames into a port's rx queue (returns how many fit,
    // like rte_eth_tx_burst), take what it transmitted.
    unsigned inject(const std::string& port, const std::vector<std::string>& frames,
                    uint16_t queue);
    std::vector<std::string> drain(const std::string& port);
    // Waits until workers have consumed every injected frame and flushed their
    // output; false on timeout.
    bool quiesce(double timeout_s);

private:
    void check_open() const;
    void stop_locked();
    size_t port_index(const std::string& name) const { return controls_->context.port_index(name); }
    void build_workers();
    void make_controls();
    void make_acls(uint32_t first_hop);

    DataplaneSpec spec_;
    std::mutex writer_;  // the one table writer
    std::mutex io_;      // ring-port inject/drain (single producer/consumer rings)
    std::vector<std::unique_ptr<Port>> ports_;
    std::vector<Iface> ifaces_;  // the ports', then the sub-interfaces
    std::vector<std::vector<uint16_t>> vlan_maps_;  // per port: VLAN -> interface (iface/ifaces.h)
    std::vector<IfaceCounters*> iface_counters_;  // per worker: rte_zmalloc'd, one per interface
    std::vector<uint8_t> kernel_ifaces_;  // per interface: 1 if it has a kernel interface
    std::unique_ptr<VrrpMacs[]> vrrp_macs_;  // per interface: what workers take as the port's MAC
    void make_ifaces();
    Port& physical_port(const std::string& name);  // PortError for a sub-interface's name
    // Per interface (nullptr: none): the net_tap whose kernel side takes the
    // interface's traffic for the router that the slow path does not answer.
    std::vector<std::unique_ptr<Port>> kernel_ports_;
    static constexpr uint16_t kKernelDesc = 512;
    std::unique_ptr<Port> make_kernel_port(size_t index, const std::string& tag) const;
    std::map<int, std::unique_ptr<Mempool>> pools_;  // by NUMA socket
    std::unique_ptr<Rcu> rcu_;
    std::unique_ptr<NextHopTable> hops_;
    std::unique_ptr<Vrfs> vrfs_;
    // Per interface: its VRF's tables, what workers look up (Tables).
    std::vector<const Fib*> iface_fib_;
    std::vector<const Fib6*> iface_fib6_;
    void make_vrfs();
    std::unique_ptr<FlowTable> flows_;
    std::unique_ptr<FlowTable6> flows6_;
    std::unique_ptr<AclTable> acls_;
    std::unique_ptr<CtTable> ct_;  // (no conntrack section: none)
    std::unique_ptr<NatTable> nat_;  // (with ct_)
    void make_ct(uint32_t first_hop, const std::string& tag);
    std::vector<uint16_t> iface_vrf_;  // per interface: its VRF's index (Tables)
    std::unique_ptr<SlowPath> slow_;
    // Route sync, per VRF with kernel interfaces (nullptr for the others): the
    // table of its network namespace mirrored into its FIB.
    std::vector<std::unique_ptr<KernelRouteTable>> kernel_routes_;
    std::vector<std::unique_ptr<RouteSync>> route_syncs_;
    void make_route_sync(uint32_t first_hop);
    std::vector<std::string> synced_vrfs() const;  // those with kernel interfaces, in VRF order
    // The network namespace of a VRF's kernel interfaces: its name; "" (ours) for the default one.
    static std::string netns_of(const std::string& vrf) {
        return vrf.empty() || vrf == kDefaultVrfName ? "" : vrf;
    }
    void follow_links();  // on the slow path's thread
    std::string tag_;           // this instance's DPDK object names
    CaptureSlot capture_slot_;  // the running capture (workers and the slow path look)
    TraceSlot trace_slot_;      // the running trace (the same)
    // Kept until the data plane is destroyed: a call on a closed one is refused
    // by ControlContext::lock(), never reaches freed tables.
    std::unique_ptr<Controls> controls_;
    std::vector<rte_ring*> punt_rings_;
    rte_ring* return_ring_ = nullptr;
    std::vector<std::unique_ptr<WorkerContext>> workers_;
    std::vector<WorkerStats*> stats_;  // rte_zmalloc'd, cache aligned
    std::atomic<bool> stop_{false};
    bool running_ = false;
    bool closed_ = false;
};

}  // namespace appliance
