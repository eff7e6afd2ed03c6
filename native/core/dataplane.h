// The data plane as one object: ports, pools, tables and workers, built
// from a spec, started and stopped by the control thread. Every control
// call is serialized here: the tables have exactly one writer.
#pragma once

#include <atomic>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "fib/fib.h"
#include "fib/fib6.h"
#include "rules/flow.h"
#include "core/mempool.h"
#include "nexthop/nexthop.h"
#include "kernel/kernel_routes.h"
#include "core/port.h"
#include "core/rcu.h"
#include "kernel/route_sync.h"
#include "slowpath/slowpath.h"
#include "core/worker.h"

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
    std::vector<unsigned> worker_lcores;  // empty: every EAL worker lcore
    uint32_t max_routes = 1u << 20;
    uint32_t tbl8_groups = 1u << 16;
    uint32_t max_routes6 = 1u << 16;
    uint32_t tbl8_groups6 = 1u << 14;
    uint32_t max_nexthops = 4096;
    uint32_t max_rules = 1u << 16;
    bool verify_checksum = true;
    bool stage_clocks = false;
    // The widest SIMD the fast path may use (128, 256, 512); the EAL's limit
    // (--force-max-simd-bitwidth) and the CPU cap it too.
    uint16_t max_simd_bitwidth = 512;
    uint64_t mbufs = 0;  // 0: sized by mbufs_needed() per socket
    SlowPathConfig slow;
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

    // Routes (prefix text "a.b.c.d/len" or "2001:db8::/32"; the family picks the table).
    void route_add(const std::string& prefix, uint32_t nexthop);
    void route_add_bulk(const std::vector<std::string>& prefixes,
                        const std::vector<uint32_t>& nexthops);
    void route_delete(const std::string& prefix);
    // A route mirrored from the kernel table, by hand (until the kernel changes it again).
    void kernel_route_delete(const std::string& prefix);
    std::vector<Route> routes();
    std::vector<Route6> routes6();
    size_t route_count();
    std::optional<uint32_t> route_lookup(const std::string& address);
    uint32_t tbl8_groups_in_use();
    uint32_t tbl8_groups6_in_use();

    // Next hops; an empty src MAC means the output port's own address. A
    // gateway next hop gets its MAC from ARP.
    void nexthop_set(uint32_t id, const std::string& port, const std::string& dst_mac,
                     const std::string& src_mac);
    void nexthop_set_gateway(uint32_t id, const std::string& port, const std::string& gateway);
    std::optional<std::string> nexthop_gateway(uint32_t id);

    // The router's own addresses ("192.0.2.1/24") and its neighbours.
    void address_add(const std::string& port, const std::string& prefix);
    void address_delete(const std::string& port, const std::string& prefix);
    std::vector<AddressInfo> addresses();
    void neighbor_add(const std::string& port, const std::string& ip, const std::string& mac);
    void neighbor_delete(const std::string& port, const std::string& ip);
    std::vector<NeighborInfo> neighbors();
    SlowPathStats slowpath_stats();

    // The mirrored kernel routes (empty without route sync) and how the sync goes.
    std::vector<KernelRouteInfo> kernel_routes();
    RouteSyncStats route_sync_stats();
    std::string route_sync_error();
    bool route_sync_synced();
    void route_sync_resync();
    unsigned held_packets(bool generated);
    void nexthop_delete(uint32_t id);
    std::vector<NextHopInfo> nexthops();

    // Exact-match rules; addresses dotted quad, ports host order.
    void rule_add(const Rule& rule);
    void rule_delete(const FlowKey& key);
    std::vector<Rule> rules();
    void rule_add(const Rule6& rule);
    void rule_delete(const FlowKey6& key);
    std::vector<Rule6> rules6();
    size_t rule_count();

    // Observability.
    std::vector<WorkerSnapshot> worker_stats();
    std::vector<PortState> port_states();
    std::map<std::string, std::map<std::string, uint64_t>> port_counters();
    std::vector<MempoolSnapshot> mempools();
    const std::string& port_name(uint16_t index) const { return spec_.ports.at(index).name; }

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
    size_t port_index(const std::string& name) const;
    void build_workers();
    void check_user_route(const Route& r) const;
    Route6 user_route6(const std::string& prefix, uint32_t nexthop) const;
    template <class Table>
    void add_rule(Table& table, const typename Table::RuleT& rule);
    template <class Table, class Key>
    void delete_rule(Table& table, const Key& key);
    template <class Table>
    std::vector<typename Table::RuleT> list_rules(const Table& table);

    DataplaneSpec spec_;
    std::mutex writer_;  // the one table writer
    std::mutex io_;      // ring-port inject/drain (single producer/consumer rings)
    std::vector<std::unique_ptr<Port>> ports_;
    // Per port (nullptr: none): the net_tap whose kernel side takes the
    // port's traffic for the router that the slow path does not answer.
    std::vector<std::unique_ptr<Port>> kernel_ports_;
    static constexpr uint16_t kKernelDesc = 512;
    std::unique_ptr<Port> make_kernel_port(size_t index, const std::string& tag) const;
    std::map<int, std::unique_ptr<Mempool>> pools_;  // by NUMA socket
    std::unique_ptr<Rcu> rcu_;
    std::unique_ptr<NextHopTable> hops_;
    std::unique_ptr<Fib> fib_;
    std::unique_ptr<Fib6> fib6_;
    std::unique_ptr<FlowTable> flows_;
    std::unique_ptr<FlowTable6> flows6_;
    std::unique_ptr<SlowPath> slow_;
    std::unique_ptr<KernelRouteTable> kernel_routes_;
    std::unique_ptr<RouteSync> route_sync_;
    void make_route_sync(uint32_t first_hop);
    void user_route_added(const IpAddr& prefix, uint8_t depth);
    void follow_links();  // on the slow path's thread
    void check_not_kernel_route(const IpAddr& prefix, uint8_t depth, const std::string& text) const;
    std::vector<rte_ring*> punt_rings_;
    rte_ring* return_ring_ = nullptr;
    std::vector<std::unique_ptr<WorkerContext>> workers_;
    std::vector<WorkerStats*> stats_;  // rte_zmalloc'd, cache aligned
    std::atomic<bool> stop_{false};
    bool running_ = false;
    bool closed_ = false;
};

}  // namespace appliance
