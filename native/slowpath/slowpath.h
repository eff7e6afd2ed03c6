// The slow path: a second, small pipeline on its own thread for everything
// the workers do not forward inline. Workers punt packets on a ring each;
// this thread answers ARP for our addresses, resolves neighbours (holding a
// few packets each meanwhile), answers echo requests, sends ICMP errors under
// a token bucket, fragments, updates IP options, and hands what must be
// sent back to a worker's return ring. One class, one file per concern:
//   slowpath.cpp   thread, dispatch, accounting
//   addresses.cpp  our addresses, connected/local routes
//   neigh.cpp      neighbour table: states, timers, hold queues, publication
//   arp.cpp        ARP input and output
//   ipv4.cpp       routing decision, output, fragmentation, options
//   icmp.cpp       echo reply and errors
// Table work runs under the dataplane's writer lock, so the slow path is one
// more table writer, serialized with the control thread.
#pragma once

#include <atomic>
#include <cstdint>
#include <deque>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include <rte_ether.h>
#include <rte_ip.h>
#include <rte_mbuf.h>

#include "drop_reasons.h"
#include "fib.h"
#include "flow.h"
#include "mempool.h"
#include "nexthop.h"
#include "punt.h"

struct rte_ring;
struct rte_mempool;

namespace appliance {

struct SlowPathConfig {
    double icmp_rate = 1000;   // ICMP errors per second, all kinds together; 0: unlimited
    unsigned icmp_burst = 50;
    unsigned hold_packets = 8;  // per unresolved neighbour; the oldest is dropped beyond
    uint32_t reachable_ms = 30000;
    uint32_t stale_ms = 5000;   // stale -> probe (Linux's delay_first_probe_time)
    uint32_t retrans_ms = 1000;
    unsigned probes = 3;        // requests before a neighbour fails
    uint32_t failed_ms = 60000;  // a failed host neighbour is forgotten after this
    uint32_t max_neighbors = 4096;
};

struct SlowPathPort {
    uint16_t port_id;
    rte_ether_addr mac;
    uint16_t mtu;
    rte_mempool* pool;
};

enum class NeighState : uint8_t { incomplete, reachable, stale, probe, failed, permanent };
const char* neigh_state_name(NeighState s);

struct NeighborInfo {
    uint16_t port_index;
    uint32_t ip;  // host order
    rte_ether_addr mac;
    NeighState state;
    unsigned held;
    uint64_t age_ms;  // since the last state change
};

struct AddressInfo {
    uint16_t port_index;
    uint32_t ip;  // host order
    uint8_t depth;
};

#define APPLIANCE_SLOW_COUNTERS(X)                                                  \
    X(received, "packets the workers punted")                                       \
    X(local, "packets for the router itself that it consumed (ARP, echo)")          \
    X(fragmented, "transit packets forwarded as fragments")                         \
    X(arp_requests_in, "ARP requests for our addresses")                            \
    X(arp_replies_in, "ARP replies that updated a neighbour")                       \
    X(arp_ignored, "ARP packets not for our addresses, or unsolicited")             \
    X(arp_requests_out, "ARP requests sent (resolution, probes, gratuitous)")       \
    X(arp_replies_out, "ARP replies sent")                                          \
    X(icmp_echo_replies, "ICMP echo replies sent")                                  \
    X(icmp_time_exceeded, "ICMP time exceeded sent")                                \
    X(icmp_unreachable, "ICMP destination unreachable sent (net, host)")            \
    X(icmp_fragmentation_needed, "ICMP fragmentation needed sent")                  \
    X(icmp_rate_limited, "ICMP errors not sent: over the rate limit")               \
    X(fragments_out, "fragments sent")                                              \
    X(generated_dropped, "packets the slow path made that could not be sent")         \
    X(busy_cycles, "TSC cycles spent on punted packets (cycles/packet, like workers)")

struct SlowPathStats {
#define APPLIANCE_SLOW_FIELD(name, help) uint64_t name = 0;
    APPLIANCE_SLOW_COUNTERS(APPLIANCE_SLOW_FIELD)
#undef APPLIANCE_SLOW_FIELD
    uint64_t drops[kDropReasonCount] = {};
};

class SlowPath {
public:
    // Internal next hop ids start at `first_hop`: local, the two reserved
    // drops, one "connected" hop per port, then max_neighbors host hops.
    static uint32_t internal_hops(size_t ports, const SlowPathConfig& c) {
        return 3 + uint32_t(ports) + c.max_neighbors;
    }

    SlowPath(const SlowPathConfig& config, std::vector<SlowPathPort> ports, Fib& fib,
             NextHopTable& hops, const FlowTable& flows, std::mutex& writer, uint32_t first_hop);
    ~SlowPath();
    SlowPath(const SlowPath&) = delete;
    SlowPath& operator=(const SlowPath&) = delete;

    // Call with the writer lock held: reserved routes and internal hops.
    void install();
    void set_rings(std::vector<rte_ring*> punts, rte_ring* returns);
    void start();  // writer lock held: the thread; gratuitous ARP for every address
    void stop();
    // Nothing punted is waiting and the thread is between batches.
    bool idle() const;

    // ---- control (writer lock held) ----
    // A user route may not take a prefix the slow path owns.
    void check_user_route(uint32_t ip, uint8_t depth) const;
    void user_route_added(uint32_t ip, uint8_t depth);  // a host route it replaced
    bool owns_route(uint32_t ip, uint8_t depth) const;

    void address_add(uint16_t port, uint32_t ip, uint8_t depth);
    void address_delete(uint16_t port, uint32_t ip, uint8_t depth);
    std::vector<AddressInfo> addresses() const;

    void neighbor_add(uint16_t port, uint32_t ip, const rte_ether_addr& mac);  // permanent
    void neighbor_delete(uint16_t port, uint32_t ip);
    std::vector<NeighborInfo> neighbors() const;
    unsigned held_packets() const;

    // A user next hop through a gateway: its MAC comes from ARP.
    void gateway_set(uint32_t hop_id, uint16_t port, uint32_t gateway);
    void gateway_clear(uint32_t hop_id);
    std::optional<uint32_t> gateway_of(uint32_t hop_id) const;
    NextHop port_hop(uint16_t port, HopAction action) const;  // MACs and MTU of a port

    const SlowPathStats& stats() const { return stats_; }
    uint32_t local_hop() const { return first_hop_; }

private:
    struct Neighbor {
        uint16_t port;
        uint32_t ip;
        rte_ether_addr mac{};
        NeighState state = NeighState::incomplete;
        unsigned probes = 0;
        uint64_t deadline_ms = 0;
        uint64_t changed_ms = 0;
        std::deque<rte_mbuf*> hold;
        uint32_t host_hop = 0;      // 0: none (internal host route next hop)
        bool host_route = false;    // ip/32 -> host_hop is installed
        std::vector<uint32_t> gateway_of;  // user next hops through it
    };
    static uint64_t neigh_key(uint16_t port, uint32_t ip) { return (uint64_t(port) << 32) | ip; }

    // slowpath.cpp
    void run();
    void process(rte_mbuf* m);
    void send(rte_mbuf* m, uint16_t port, bool generated);
    void drop(rte_mbuf* m, DropReason why);
    void drop_generated(rte_mbuf* m);
    uint64_t now_ms() const;
    rte_mbuf* alloc(uint16_t port);

    // addresses.cpp
    std::optional<uint32_t> address_on(uint16_t port, uint32_t ip) const;  // our ip on port
    bool is_ours(uint32_t ip) const;
    bool connected(uint16_t port, uint32_t ip) const;
    uint32_t source_for(uint16_t port) const;  // 0: we have no address at all
    void route_install(uint32_t ip, uint8_t depth, uint32_t hop);
    void route_uninstall(uint32_t ip, uint8_t depth);

    // neigh.cpp
    Neighbor* neigh_find(uint16_t port, uint32_t ip);
    Neighbor* neigh_new(uint16_t port, uint32_t ip);  // nullptr: table full
    Neighbor& neigh_new_or_throw(uint16_t port, uint32_t ip);
    Neighbor* neigh_resolve(uint16_t port, uint32_t ip);  // nullptr: table full
    void neigh_hold(Neighbor& n, rte_mbuf* m, bool generated);
    std::deque<rte_mbuf*> neigh_take_held(Neighbor& n);
    void drop_held(rte_mbuf* m, DropReason why);
    void neigh_learn(uint16_t port, uint32_t ip, const rte_ether_addr& mac, NeighState state);
    void neigh_update(Neighbor& n, const rte_ether_addr& mac, NeighState state);
    void neigh_fail(Neighbor& n);
    void neigh_publish(Neighbor& n);
    void neigh_forget(Neighbor& n);
    void neigh_timers();
    void neigh_restart(Neighbor& n);
    std::vector<uint32_t> free_hops_;

    // arp.cpp
    void arp_input(rte_mbuf* m, uint16_t port);
    void arp_send(uint16_t port, uint16_t op, const rte_ether_addr& dst_mac, uint32_t target,
                  uint32_t sender);
    void gratuitous_arp(uint16_t port, uint32_t ip);

    // ipv4.cpp
    uint32_t lookup(const rte_mbuf* m) const;  // rules, then LPM, as a worker would
    void ipv4_input(rte_mbuf* m, uint16_t in_port);  // options, then route
    void ipv4_route(rte_mbuf* m, uint16_t in_port, uint32_t hop_id, bool generated);
    void ipv4_send(rte_mbuf* m, const NextHop& hop, bool generated);
    void fragment(rte_mbuf* m, const NextHop& hop);
    bool update_options(rte_mbuf* m, uint16_t out_port, DropReason* why);

    // icmp.cpp
    void local_input(rte_mbuf* m, uint16_t in_port);
    void icmp_error(const rte_mbuf* m, uint16_t in_port, uint8_t type, uint8_t code,
                    uint16_t mtu = 0);

    SlowPathConfig config_;
    std::vector<SlowPathPort> ports_;
    Fib& fib_;
    NextHopTable& hops_;
    const FlowTable& flows_;
    std::mutex& writer_;
    uint32_t first_hop_;
    std::vector<rte_ring*> punts_;
    rte_ring* returns_ = nullptr;
    TokenBucket icmp_bucket_;
    uint16_t ip_id_ = 0;

    std::vector<std::vector<std::pair<uint32_t, uint8_t>>> addresses_;  // per port
    std::map<uint64_t, unsigned> owned_routes_;  // (ip << 8 | depth) -> users
    std::unordered_map<uint64_t, Neighbor> neighbors_;
    std::map<uint32_t, uint64_t> gateways_;  // user hop id -> neighbour key
    unsigned held_ = 0;

    SlowPathStats stats_;
    std::thread thread_;
    std::atomic<bool> stop_{false};
    std::atomic<bool> busy_{false};
    uint64_t last_timers_ms_ = 0;
};

}  // namespace appliance
