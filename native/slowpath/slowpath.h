// The slow path: a second, small pipeline on its own thread for everything
// the workers do not forward inline. Workers punt packets on a ring each;
// this thread answers ARP and neighbour solicitations for our addresses,
// resolves neighbours (holding a few packets each meanwhile), answers echo
// requests, sends ICMP and ICMPv6 errors under one token bucket, fragments
// IPv4, updates IP options, and hands what must be sent back to a worker's
// return ring. One class, one file per concern:
//   slowpath.cpp    thread, dispatch, accounting
//   addresses.cpp   our IPv4 addresses, connected/local routes of both families
//   addresses6.cpp  our IPv6 addresses, link-local ones included
//   neigh.cpp       neighbour table (both families): states, timers, hold queues, publication
//   output.cpp      after the routing decision: through a neighbour, or out
//   arp.cpp         ARP input and output
//   nd.cpp          neighbour discovery (RFC 4861): NS and NA input and output
//   ipv4.cpp        IPv4 routing decision, output, fragmentation, options
//   ipv6.cpp        IPv6 routing decision and output
//   icmp.cpp        ICMP echo reply and errors
//   icmp6.cpp       ICMPv6 echo reply and errors, and what is for our IPv6 addresses
//   kernel.cpp      the ports' kernel interfaces: what we do not answer, and what they send
// Table work runs under the dataplane's writer lock, so the slow path is one
// more table writer, serialized with the control thread.
#pragma once

#include <atomic>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <random>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include <rte_ether.h>
#include <rte_ip.h>
#include <rte_mbuf.h>

#include "core/drop_reasons.h"
#include "fib/fib.h"
#include "fib/fib6.h"
#include "core/ip_addr.h"
#include "rules/flow.h"
#include "core/mempool.h"
#include "nexthop/nexthop.h"
#include "core/punt.h"
#include "slowpath/ra.h"
#include "trace/capture.h"
#include "trace/trace.h"
#include "vrf/vrfs.h"
#include "vrrp/vrrp_machine.h"
#include "vrrp/vrrp_macs.h"
#include "vrrp/vrrp_spec.h"

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

constexpr uint16_t kNoKernelPort = 0xffff;
constexpr uint8_t kIcmpParameterProblem = 12;  // what an IPv4 option in error earns

// An L3 interface as the slow path sees it (a port, or a VLAN sub-interface
// of one: iface/iface.h). Wherever the slow path says `port`, it means the
// index of one of these.
struct SlowPathPort {
    uint16_t port_id;
    rte_ether_addr mac;
    uint16_t mtu;
    rte_mempool* pool;
    uint16_t kernel_port_id;  // the net_tap of its kernel interface, or kNoKernelPort
    uint16_t tx_port = 0;     // the index of its port
    uint16_t vlan = 0;        // 0: the port itself; else frames carry this 802.1Q tag
    uint16_t vrf = kDefaultVrf;  // its routes and lookups are in this VRF's tables
};

enum class NeighState : uint8_t { incomplete, reachable, stale, probe, failed, permanent };
const char* neigh_state_name(NeighState s);

// fe80::/64 with the modified EUI-64 interface id of `mac` (RFC 4291 2.5.1).
Ipv6Address eui64_link_local(const rte_ether_addr& mac);

struct NeighborInfo {
    uint16_t port_index;
    IpAddr ip;
    rte_ether_addr mac;
    NeighState state;
    unsigned held;
    uint64_t age_ms;  // since the last state change
};

struct AddressInfo {
    uint16_t port_index;
    IpAddr ip;
    uint8_t depth;
    bool automatic;  // the port's EUI-64 link-local address, not configured
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
    X(nd_solicits_in, "neighbour solicitations for our IPv6 addresses")              \
    X(nd_adverts_in, "neighbour advertisements that updated a neighbour")           \
    X(nd_ignored, "NDP packets not for our addresses, unsolicited or invalid")      \
    X(nd_solicits_out, "neighbour solicitations sent (resolution, probes)")         \
    X(nd_adverts_out, "neighbour advertisements sent (answers, unsolicited)")       \
    X(rs_in, "router solicitations answered (interfaces with router advertisements)") \
    X(ra_out, "router advertisements sent")                                          \
    X(vrrp_in, "VRRP advertisements taken by a virtual router")                      \
    X(vrrp_out, "VRRP advertisements sent")                                          \
    X(icmp_echo_replies, "ICMP and ICMPv6 echo replies sent")                       \
    X(icmp_time_exceeded, "ICMP and ICMPv6 time exceeded sent")                     \
    X(icmp_unreachable, "ICMP and ICMPv6 destination unreachable sent")             \
    X(icmp_fragmentation_needed, "ICMP fragmentation needed and ICMPv6 packet too big sent") \
    X(icmp_parameter_problem, "ICMP parameter problem sent (an IPv4 option in error)") \
    X(icmp_rate_limited, "ICMP and ICMPv6 errors not sent: over the rate limit")    \
    X(fragments_out, "fragments sent")                                              \
    X(kernel_in, "packets for our addresses handed to a port's kernel interface")  \
    X(kernel_out, "packets a kernel interface sent, out through its port")         \
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

    SlowPath(const SlowPathConfig& config, std::vector<SlowPathPort> ports, const Vrfs& vrfs,
             NextHopTable& hops, const FlowTable& flows, const FlowTable6& flows6,
             std::mutex& writer, uint32_t first_hop);
    ~SlowPath();
    SlowPath(const SlowPath&) = delete;
    SlowPath& operator=(const SlowPath&) = delete;

    // Call with the writer lock held: reserved routes (in every VRF) and internal hops.
    void install();
    // The interfaces that send router advertisements (before start; PortError
    // for settings that cannot be). `index_of`: an interface's index by name.
    void ra_configure(const std::vector<RaSpec>& specs,
                      const std::function<uint16_t(const std::string&)>& index_of);
    void set_rings(std::vector<rte_ring*> punts, rte_ring* returns);
    // Where a running capture is found: what the slow path drops is offered to it.
    void set_capture(const CaptureSlot* slot) { capture_ = slot; }
    // Where a running trace is found: the slow path's part of a traced packet goes in it.
    void set_trace(const TraceSlot* slot) { trace_slot_ = slot; }
    // Run on the slow path's thread with its timers (every 50 ms), without the writer lock.
    void set_periodic(std::function<void()> fn) { periodic_ = std::move(fn); }
    void start();  // writer lock held: the thread; gratuitous ARP and unsolicited NA
    void stop();
    // Nothing punted is waiting and the thread is between batches.
    bool idle() const;

    // ---- control (writer lock held) ----
    // A user route may not take a prefix the slow path owns in its VRF.
    // (IPv4 and IPv6: `ip` says which.)
    void check_user_route(uint16_t vrf, const IpAddr& ip, uint8_t depth) const;
    void user_route_added(uint16_t vrf, const IpAddr& ip, uint8_t depth);  // a host route it replaced
    bool owns_route(uint16_t vrf, const IpAddr& ip, uint8_t depth) const;
    uint16_t vrf_of(uint16_t port) const { return ports_[port].vrf; }

    // Router advertisements on `port` from now on (the first at once), or no
    // more (a last one with router lifetime 0). PortError for settings that cannot be.
    void ra_set(uint16_t port, const RaSpec& spec);
    void ra_clear(uint16_t port);

    // VRRPv3 virtual routers (vrrp.cpp). Where the workers find the virtual MACs
    // of the masters (one VrrpMacs per interface), before start.
    void set_vrrp_macs(VrrpMacs* macs) { vrrp_macs_ = macs; }
    // A virtual router on `port`, new or changed in place (its state kept);
    // PortError for settings that cannot be. `index_of`: tracked interfaces by name.
    void vrrp_set(uint16_t port, const VrrpSpec& spec,
                  const std::function<uint16_t(const std::string&)>& index_of);
    void vrrp_clear(uint16_t port, uint8_t vrid, bool v6);  // a master leaves with priority 0
    void vrrp_links(const std::vector<bool>& up);  // per interface: link up
    std::vector<VrrpInfo> vrrp_list() const;
    std::vector<VrrpEvent> vrrp_events(uint64_t after_seq) const;  // transitions, oldest first
    bool vrrp_any() const { return !vrrp_.empty(); }

    void address_add(uint16_t port, const IpAddr& ip, uint8_t depth);
    void address_delete(uint16_t port, const IpAddr& ip, uint8_t depth);
    std::vector<AddressInfo> addresses() const;

    void neighbor_add(uint16_t port, const IpAddr& ip, const rte_ether_addr& mac);  // permanent
    void neighbor_delete(uint16_t port, const IpAddr& ip);
    std::vector<NeighborInfo> neighbors() const;
    // Packets waiting for a neighbour: received ones (`generated` false) or
    // ones the slow path made (echo replies, errors).
    unsigned held_packets(bool generated = false) const;

    // A user next hop through a gateway: its MAC comes from ARP or NDP.
    void gateway_set(uint32_t hop_id, uint16_t port, const IpAddr& gateway);
    void gateway_clear(uint32_t hop_id);
    std::optional<IpAddr> gateway_of(uint32_t hop_id) const;
    NextHop port_hop(uint16_t port, HopAction action) const;  // MACs and MTU of a port

    const SlowPathStats& stats() const { return stats_; }
    uint32_t local_hop() const { return first_hop_; }
    // A port's "resolve the destination on this link" next hop (connected routes).
    uint32_t connected_hop(uint16_t port) const { return first_hop_ + 3 + port; }
    // The hops of destinations never routed (martian, multicast): dropped without ICMP.
    bool never_routed(uint32_t hop_id) const {
        return hop_id == first_hop_ + 1 || hop_id == first_hop_ + 2;
    }

private:
    const CaptureSlot* capture_ = nullptr;
    const TraceSlot* trace_slot_ = nullptr;
    // The running trace (nullptr: none), held from one batch to the next; read and
    // written with the writer lock held, as every call that may trace.
    std::shared_ptr<Trace> trace_;
    void hold_trace();  // the writer lock held
    uint32_t current_ = 0;          // the trace id of the packet being handled: what alloc() stamps
    // An event of the traced packet `m` (nothing when none runs or `m` is not traced).
    void trace(const rte_mbuf* m, TraceStep step, uint8_t code, uint32_t a = 0, uint32_t b = 0,
               const void* data = nullptr, unsigned len = 0) {
        if (trace_ != nullptr && trace_id(m) != 0)
            trace_->note(trace_->slow_path(), trace_id(m), step, code, a, b, data, len);
    }
    void trace_slow(const rte_mbuf* m, TraceSlow what, uint32_t a = 0, uint32_t b = 0,
                    const void* data = nullptr, unsigned len = 0) {
        trace(m, TraceStep::slow, uint8_t(what), a, b, data, len);
    }
    struct NeighKey {
        uint16_t port;
        IpAddr ip;
        bool operator<(const NeighKey& o) const { return port != o.port ? port < o.port : ip < o.ip; }
    };
    struct Neighbor {
        uint16_t port;
        IpAddr ip;
        rte_ether_addr mac{};
        NeighState state = NeighState::incomplete;
        unsigned probes = 0;
        uint64_t deadline_ms = 0;
        uint64_t changed_ms = 0;
        std::deque<rte_mbuf*> hold;
        uint32_t host_hop = 0;      // 0: none (internal host route next hop)
        bool host_route = false;    // ip/32 or ip/128 -> host_hop is installed
        std::vector<uint32_t> gateway_of;  // user next hops through it
    };
    struct Address6 {
        Ipv6Address ip;
        uint8_t depth;
        bool automatic;
    };

    // slowpath.cpp
    void run();
    void process(rte_mbuf* m);
    void send(rte_mbuf* m, uint16_t port, bool generated);
    void drop(rte_mbuf* m, DropReason why);
    void drop_generated(rte_mbuf* m);
    uint64_t now_ms() const;
    rte_mbuf* alloc(uint16_t port);

    // addresses.cpp (IPv4, and the routes of both families)
    std::optional<uint32_t> address_on(uint16_t port, uint32_t ip) const;  // our ip on port
    bool is_ours(uint16_t vrf, const IpAddr& ip) const;  // an address of an interface in `vrf`
    std::string in_vrf(uint16_t vrf) const;  // " in VRF red" for errors; "" for the default one
    bool connected(uint16_t port, const IpAddr& ip) const;
    // Our address to use toward `peer` (host order) out of `port`: the port's
    // one on the peer's subnet, else its first, else any in its VRF (0: we have
    // none), as Linux picks a source (inet_select_addr).
    uint32_t source_for(uint16_t port, const IpAddr& peer = IpAddr::v4(0)) const;
    void address4_add(uint16_t port, uint32_t ip, uint8_t depth);
    void address4_delete(uint16_t port, uint32_t ip, uint8_t depth);
    std::optional<uint32_t> fib_get(uint16_t vrf, const IpAddr& ip, uint8_t depth) const;
    void route_install(uint16_t vrf, const IpAddr& ip, uint8_t depth, uint32_t hop);
    void route_uninstall(uint16_t vrf, const IpAddr& ip, uint8_t depth);
    void forget_unconnected(uint16_t port);

    // addresses6.cpp
    void address6_add(uint16_t port, const Ipv6Address& ip, uint8_t depth, bool automatic);
    void address6_delete(uint16_t port, const Ipv6Address& ip, uint8_t depth);
    bool is_ours6(uint16_t port, const uint8_t* ip) const;  // in its VRF (link-local: on this port)
    bool address6_on(uint16_t port, const uint8_t* ip) const;  // an address of this port
    bool connected6(uint16_t port, const Ipv6Address& ip) const;
    // Our address on `port` to speak to `to` from: one in its subnet, else a
    // global one (of this port first), else the port's link-local address.
    Ipv6Address source6_for(uint16_t port, const Ipv6Address& to) const;
    const Ipv6Address& link_local(uint16_t port) const;

    // neigh.cpp
    Neighbor* neigh_find(uint16_t port, const IpAddr& ip);
    Neighbor* neigh_new(uint16_t port, const IpAddr& ip);  // nullptr: table full
    Neighbor& neigh_new_or_throw(uint16_t port, const IpAddr& ip);
    Neighbor* neigh_resolve(uint16_t port, const IpAddr& ip);  // nullptr: table full
    void neigh_hold(Neighbor& n, rte_mbuf* m, bool generated);
    std::deque<rte_mbuf*> neigh_take_held(Neighbor& n);
    void drop_held(rte_mbuf* m, DropReason why);
    void neigh_learn(uint16_t port, const IpAddr& ip, const rte_ether_addr& mac, NeighState state);
    void neigh_update(Neighbor& n, const rte_ether_addr& mac, NeighState state);
    void neigh_fail(Neighbor& n);
    void neigh_publish(Neighbor& n);
    void neigh_forget(Neighbor& n);
    void neigh_timers();
    void neigh_restart(Neighbor& n);
    void neigh_solicit(Neighbor& n, bool unicast);  // an ARP request or an NS
    std::vector<uint32_t> free_hops_;

    // output.cpp
    void resolve_and_send(rte_mbuf* m, uint16_t in_port, uint32_t hop_id, const NextHop& hop,
                          const IpAddr& destination, bool generated);
    void send_resolved(rte_mbuf* m, const NextHop& hop, bool generated);  // by the packet's family
    void route_again(rte_mbuf* m);     // a held packet, once its neighbour answered
    void host_unreachable(const rte_mbuf* m, uint16_t in_port);  // ICMP or ICMPv6

    // arp.cpp
    void arp_input(rte_mbuf* m, uint16_t port);
    // `own`: the MAC we answer from (a VRRP master's virtual MAC); nullptr: the port's.
    void arp_send(uint16_t port, uint16_t op, const rte_ether_addr& dst_mac, uint32_t target,
                  uint32_t sender, const rte_ether_addr* own = nullptr);
    void gratuitous_arp(uint16_t port, uint32_t ip);

    // nd.cpp
    void nd_input(rte_mbuf* m, uint16_t port);  // a valid ICMPv6 NS or NA (type checked)
    void ns_send(uint16_t port, const Ipv6Address& target, const rte_ether_addr* unicast_mac);
    void na_send(uint16_t port, const rte_ether_addr& dst_mac, const Ipv6Address& dst,
                 const Ipv6Address& target, bool solicited, const rte_ether_addr* own = nullptr);
    void unsolicited_na(uint16_t port, const Ipv6Address& ip);

    // ipv4.cpp
    // Rules, then LPM in the VRF of `in_port`, as a worker would.
    uint32_t lookup(const rte_mbuf* m, uint16_t in_port) const;
    void ipv4_input(rte_mbuf* m, uint16_t in_port);  // options, then route
    void ipv4_route(rte_mbuf* m, uint16_t in_port, uint32_t hop_id, bool generated);
    void ipv4_send(rte_mbuf* m, const NextHop& hop, bool generated);
    void fragment(rte_mbuf* m, const NextHop& hop);
    void update_options(rte_ipv4_hdr* ip, uint32_t address, uint16_t vrf);  // host order

    // ipv6.cpp
    // Rules, then LPM (in_port's VRF); a link-local destination is on the link it came from.
    uint32_t lookup6(const rte_mbuf* m, uint16_t in_port) const;
    void ipv6_input(rte_mbuf* m, uint16_t in_port);  // link-local, multicast, hop limit
    void ipv6_route(rte_mbuf* m, uint16_t in_port, uint32_t hop_id, bool generated);
    void ipv6_send(rte_mbuf* m, const NextHop& hop, bool generated);
    // A new IPv6 packet: headers filled but the Ethernet addresses; nullptr
    // if no buffer. `payload` bytes follow the header, for the caller.
    rte_mbuf* new_ipv6(uint16_t port, const Ipv6Address& src, const Ipv6Address& dst,
                       uint8_t hop_limit, uint16_t payload);

    // ra.cpp
    struct RaState {
        bool enabled = false;
        RaSpec spec;
        std::vector<Ipv6Address> rdnss;
        uint64_t next_ms = 0;  // the next unsolicited one (0: at once)
        uint64_t last_ms = 0;
        unsigned initial_left = 3;
    };
    std::vector<RaState> ra_;  // per interface
    std::mt19937 rng_{std::random_device{}()};
    uint32_t ra_interval(RaState& r);
    void ra_timers();
    void rs_input(rte_mbuf* m, uint16_t port);  // a router solicitation (type checked)
    void ra_send(uint16_t port, uint16_t lifetime_s);
    void ra_farewell();

    // vrrp.cpp
    struct VrrpRouter {
        uint16_t port;
        bool v6;
        VrrpSpec spec;
        std::vector<IpAddr> addresses;
        std::vector<std::pair<uint16_t, uint8_t>> track;  // interface, decrement
        rte_ether_addr mac;
        VrrpMachine machine;
        int mac_slot = -1;   // its place in the interface's VrrpMacs while master
        IpAddr master{};     // the master as last heard
        bool master_known = false;
        uint8_t master_priority = 0;
        uint64_t since_ms = 0;
        uint64_t transitions = 0, became_master = 0, adverts_out = 0, adverts_in = 0, zero_out = 0,
                 zero_in = 0;
    };
    std::vector<VrrpRouter> vrrp_;
    std::vector<bool> link_up_;  // per interface, as last told (vrrp_links)
    VrrpMacs* vrrp_macs_ = nullptr;
    std::atomic<uint64_t> vrrp_due_ms_{~0ull};  // the earliest timer of any router
    std::deque<VrrpEvent> vrrp_events_;
    uint64_t vrrp_seq_ = 0;
    static bool is_vrrp(const rte_mbuf* m);  // IPv4 or IPv6 protocol 112
    void vrrp_input(rte_mbuf* m, uint16_t port);
    void vrrp_timers();
    void vrrp_start(VrrpRouter& r, VrrpReason why);
    void vrrp_act(VrrpRouter& r, const VrrpActions& a, VrrpState from);
    void vrrp_take(VrrpRouter& r);
    void vrrp_nic_filter(const VrrpRouter& r, bool add);
    std::map<std::pair<uint16_t, uint64_t>, unsigned> nic_macs_;  // (port id, MAC) -> masters
    void vrrp_release(VrrpRouter& r);
    void vrrp_advertise(VrrpRouter& r, uint8_t priority);
    void vrrp_reschedule();
    uint8_t vrrp_priority(const VrrpRouter& r) const;  // with tracking
    bool vrrp_owner(const VrrpRouter& r) const;
    // The virtual MAC a master on `port` answers ARP/ND for `ip` with, or nullptr.
    const rte_ether_addr* vrrp_answers(uint16_t port, const IpAddr& ip) const;
    bool vrrp_solicited(uint16_t port, const uint8_t* group) const;  // a master's address's group
    // Where `port`'s router advertisements come from: a master's link-local virtual
    // address and MAC, else the port's own; false: none (a backup of such a router).
    bool vrrp_ra_source(uint16_t port, Ipv6Address* ip, rte_ether_addr* mac) const;
    // `ip` is a master's virtual address that takes no packets (no accept mode).
    bool vrrp_refuses(uint16_t vrf, const IpAddr& ip) const;
    void vrrp_farewell();

    // kernel.cpp
    void to_kernel(rte_mbuf* m, uint16_t in_port);  // or drop: local_unhandled
    void poll_kernel(bool* worked);
    void from_kernel(rte_mbuf* m, uint16_t port);

    // icmp.cpp
    void local_input(rte_mbuf* m, uint16_t in_port);
    // `info`: the header's second word, host order (next-hop MTU, a pointer << 24).
    void icmp_error(const rte_mbuf* m, uint16_t in_port, uint8_t type, uint8_t code,
                    uint32_t info = 0);

    // icmp6.cpp
    void local6_input(rte_mbuf* m, uint16_t in_port);
    void icmp6_error(const rte_mbuf* m, uint16_t in_port, uint8_t type, uint8_t code,
                     uint32_t info = 0);

    SlowPathConfig config_;
    std::vector<SlowPathPort> ports_;
    const Vrfs& vrfs_;
    NextHopTable& hops_;
    const FlowTable& flows_;
    const FlowTable6& flows6_;
    std::mutex& writer_;
    uint32_t first_hop_;
    std::vector<rte_ring*> punts_;
    rte_ring* returns_ = nullptr;
    TokenBucket icmp_bucket_;
    uint16_t ip_id_ = 0;

    std::vector<std::vector<std::pair<uint32_t, uint8_t>>> addresses_;  // per port
    std::vector<std::vector<Address6>> addresses6_;  // per port; [0] is the EUI-64 link-local
    std::map<std::tuple<uint16_t, IpAddr, uint8_t>, unsigned> owned_routes_;  // (vrf, prefix) -> users
    std::map<NeighKey, Neighbor> neighbors_;
    std::map<uint32_t, NeighKey> gateways_;  // user hop id -> its neighbour
    unsigned held_ = 0;

    SlowPathStats stats_;
    std::thread thread_;
    std::atomic<bool> stop_{false};
    std::atomic<bool> busy_{false};
    uint64_t last_timers_ms_ = 0;
    std::function<void()> periodic_;
};

}  // namespace appliance
