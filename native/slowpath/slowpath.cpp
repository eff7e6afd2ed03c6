#include "slowpath/slowpath.h"

#include <algorithm>
#include <chrono>

#include <rte_cycles.h>
#include <rte_lcore.h>
#include <rte_ring.h>

#include "core/errors.h"
#include "iface/vlan_tag.h"

namespace appliance {

namespace {

constexpr unsigned kBatch = 32;
constexpr uint64_t kTimerPeriodMs = 50;
constexpr unsigned kMinIdleUs = 50, kMaxIdleUs = 1000;

}  // namespace

SlowPath::SlowPath(const SlowPathConfig& config, std::vector<SlowPathPort> ports, const Vrfs& vrfs,
                   NextHopTable& hops, const FlowTable& flows, const FlowTable6& flows6,
                   std::mutex& writer, uint32_t first_hop)
    : config_(config), ports_(std::move(ports)), vrfs_(vrfs), hops_(hops),
      flows_(flows), flows6_(flows6), writer_(writer), first_hop_(first_hop),
      addresses_(ports_.size()), addresses6_(ports_.size()) {
    for (uint16_t p = 0; p < ports_.size(); ++p) {  // before anything may look for it
        addresses6_[p].push_back({eui64_link_local(ports_[p].mac), 64, true});
    }
    icmp_bucket_.configure(config_.icmp_rate, config_.icmp_burst);
    const uint32_t first_host = first_hop_ + 3 + uint32_t(ports_.size());
    for (uint32_t i = config_.max_neighbors; i-- > 0;) free_hops_.push_back(first_host + i);
}

SlowPath::~SlowPath() {
    stop();
    for (auto& [key, n] : neighbors_)
        for (rte_mbuf* m : n.hold) rte_pktmbuf_free(m);
}

NextHop SlowPath::port_hop(uint16_t port, HopAction action) const {
    NextHop h{};
    h.src = ports_[port].mac;
    h.port_id = ports_[port].port_id;
    h.iface = port;
    h.tx_port = ports_[port].tx_port;
    h.vlan = ports_[port].vlan;
    h.mtu = action == HopAction::forward ? ports_[port].mtu : 0;
    h.action = action;
    return h;
}

void SlowPath::install() {
    NextHop local{};
    local.action = HopAction::local;
    hops_.set(first_hop_, local);
    NextHop martian{};
    martian.action = HopAction::drop;
    martian.drop_reason = uint8_t(DropReason::martian_destination);
    hops_.set(first_hop_ + 1, martian);
    NextHop multicast = martian;
    multicast.drop_reason = uint8_t(DropReason::multicast_destination);
    hops_.set(first_hop_ + 2, multicast);
    for (uint16_t p = 0; p < ports_.size(); ++p)
        hops_.set(first_hop_ + 3 + p, port_hop(p, HopAction::resolve));
    // RFC 1812 5.3.7: never forwarded, whatever the routes say. 240/4 holds
    // the limited broadcast 255.255.255.255.
    for (uint16_t vrf = 0; vrf < vrfs_.size(); ++vrf) {
        route_install(vrf, IpAddr::v4(0x00000000), 8, first_hop_ + 1);
        route_install(vrf, IpAddr::v4(0x7f000000), 8, first_hop_ + 1);
        route_install(vrf, IpAddr::v4(0xf0000000), 4, first_hop_ + 1);
        route_install(vrf, IpAddr::v4(0xe0000000), 4, first_hop_ + 2);
    }
}

void SlowPath::set_rings(std::vector<rte_ring*> punts, rte_ring* returns) {
    punts_ = std::move(punts);
    returns_ = returns;
}

void SlowPath::start() {
    if (thread_.joinable()) return;
    stop_.store(false);
    for (uint16_t p = 0; p < ports_.size(); ++p) {
        for (const auto& [ip, depth] : addresses_[p]) gratuitous_arp(p, ip);
        // Configured addresses only: a port nobody gave IPv6 stays quiet.
        for (const Address6& a : addresses6_[p])
            if (!a.automatic) unsolicited_na(p, a.ip);
    }
    for (VrrpRouter& r : vrrp_) vrrp_start(r, VrrpReason::startup);
    thread_ = std::thread([this] { run(); });
}

void SlowPath::stop() {
    if (!thread_.joinable()) return;
    stop_.store(true);
    thread_.join();
}

bool SlowPath::idle() const {
    if (busy_.load(std::memory_order_acquire)) return false;
    for (rte_ring* r : punts_)
        if (!rte_ring_empty(r)) return false;
    return rte_ring_empty(returns_);
}

uint64_t SlowPath::now_ms() const {
    using namespace std::chrono;
    return uint64_t(duration_cast<milliseconds>(steady_clock::now().time_since_epoch()).count());
}

void SlowPath::run() {
    // Not rte_thread_register(): a registered non-EAL thread turns off
    // multi-process support, and dpdk-dumpcap / pdump must still attach.
    // Without an lcore id the mempool is used without a cache: fine here.
    rte_mbuf* pkts[kBatch];
    unsigned idle_us = kMinIdleUs;
    while (!stop_.load(std::memory_order_relaxed)) {
        bool worked = false;
        for (rte_ring* r : punts_) {
            busy_.store(true, std::memory_order_release);
            const unsigned n = rte_ring_sc_dequeue_burst(r, reinterpret_cast<void**>(pkts), kBatch,
                                                         nullptr);
            if (n != 0) {
                std::lock_guard<std::mutex> lock(writer_);
                hold_trace();
                const uint64_t start = rte_rdtsc();
                for (unsigned i = 0; i < n; ++i) process(pkts[i]);
                stats_.busy_cycles += rte_rdtsc() - start;
                worked = true;
            }
            busy_.store(false, std::memory_order_release);
        }
        poll_kernel(&worked);
        const uint64_t now = now_ms();
        if (now >= vrrp_due_ms_.load(std::memory_order_relaxed)) {
            std::lock_guard<std::mutex> lock(writer_);
            hold_trace();
            vrrp_timers();
        }
        if (now - last_timers_ms_ >= kTimerPeriodMs) {
            {
                std::lock_guard<std::mutex> lock(writer_);
                hold_trace();
                neigh_timers();
                ra_timers();
            }
            if (periodic_) periodic_();
            last_timers_ms_ = now;
        }
        // Not a poll-mode core: sleep while there is nothing to do, longer the
        // longer it stays idle. Waking often costs the workers (measured: the
        // bench's worker lost ~10 cycles/packet with a fixed 200 us sleep on
        // this 2-vCPU VM); a first packet after a quiet spell waits <= 1 ms.
        idle_us = worked ? kMinIdleUs : std::min(idle_us * 2, kMaxIdleUs);
        if (!worked) std::this_thread::sleep_for(std::chrono::microseconds(idle_us));
    }
    // Workers still run (they stop after us) and send what this queues.
    std::lock_guard<std::mutex> lock(writer_);
    trace_ = nullptr;
    ra_farewell();
    vrrp_farewell();  // a backup takes over after its skew time, not Master_Down_Interval
}

void SlowPath::hold_trace() {
    trace_ = trace_slot_ != nullptr && trace_slot_->live() != nullptr ? trace_slot_->hold() : nullptr;
}

void SlowPath::process(rte_mbuf* m) {
    stats_.received++;
    const PacketMeta meta = get_meta(m);
    // What is made in answer (an ICMP error, an ARP request) carries its trace id.
    current_ = trace_ != nullptr ? trace_id(m) : 0;
    struct Reset {
        uint32_t& id;
        ~Reset() { id = 0; }
    } reset{current_};
    switch (meta.kind) {
    case PuntKind::arp:
        arp_input(m, meta.port);
        return;
    case PuntKind::ipv4_input:
        ipv4_input(m, meta.port);
        return;
    case PuntKind::ipv4_routed:
    case PuntKind::ipv4_checked:
        ipv4_route(m, meta.port, meta.hop, false);
        return;
    case PuntKind::ipv6_input:
        ipv6_input(m, meta.port);
        return;
    case PuntKind::ipv6_routed:
    case PuntKind::ipv6_checked:
        ipv6_route(m, meta.port, meta.hop, false);
        return;
    case PuntKind::kernel:  // link-local multicast: VRRP is ours, the rest the kernel's
        if (is_vrrp(m)) return vrrp_input(m, meta.port);
        if (ports_[meta.port].kernel_port_id == kNoKernelPort) return drop(m, DropReason::link_broadcast);
        to_kernel(m, meta.port);
        return;
    }
    drop(m, DropReason::malformed);
}

void SlowPath::send(rte_mbuf* m, uint16_t port, bool generated) {
    if (ports_[port].vlan != 0 && !vlan_push(m, ports_[port].vlan)) {
        if (generated) return drop_generated(m);
        return drop(m, DropReason::malformed);
    }
    set_meta(m, {0, ports_[port].tx_port, PuntKind::ipv4_routed, uint8_t(generated)});
    if (rte_ring_sp_enqueue(returns_, m) != 0) {
        if (generated) drop_generated(m);
        else drop(m, DropReason::punt_full);
    }
}

void SlowPath::drop(rte_mbuf* m, DropReason why) {
    stats_.drops[unsigned(why)]++;
    trace(m, TraceStep::drop, uint8_t(why), get_meta(m).port);
    if (capture_ != nullptr && capture_->live() != nullptr) {
        const uint16_t port = get_meta(m).port;  // where the worker took it in
        const std::shared_ptr<Capture> capture = capture_->hold();
        if (capture != nullptr && capture->wants_drop(port, why)) capture->take(&m, 1, port, kCaptureDrops, kSlowPath, why);
    }
    rte_pktmbuf_free(m);
}

void SlowPath::drop_generated(rte_mbuf* m) {
    stats_.generated_dropped++;
    rte_pktmbuf_free(m);
}

rte_mbuf* SlowPath::alloc(uint16_t port) {
    rte_mbuf* m = rte_pktmbuf_alloc(ports_[port].pool);
    if (m != nullptr) set_trace_id(m, current_);  // (the worker that sends it reads it)
    return m;
}

const char* neigh_state_name(NeighState s) {
    switch (s) {
    case NeighState::incomplete: return "incomplete";
    case NeighState::reachable: return "reachable";
    case NeighState::stale: return "stale";
    case NeighState::probe: return "probe";
    case NeighState::failed: return "failed";
    case NeighState::permanent: return "permanent";
    }
    return "?";
}

}  // namespace appliance
