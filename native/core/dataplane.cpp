#include "core/dataplane.h"

#include <algorithm>
#include <chrono>
#include <set>
#include <thread>

#include <net/if.h>
#include <rte_launch.h>
#include <rte_lcore.h>
#include <rte_malloc.h>
#include <rte_ring.h>

#include "core/eal.h"
#include "core/errors.h"
#include "core/netns.h"
#include "iface/ifaces.h"
#include "ip4/ipv4_input.h"
#include "ip4/ipv4_input_x8.h"
#include "ip6/ipv6_input.h"

namespace appliance {

bool Dataplane::avx512_input() const {
    return spec_.max_simd_bitwidth >= RTE_VECT_SIMD_512 && avx512_input_usable();
}

namespace {

std::atomic<unsigned> g_instances{0};

void free_ring(rte_ring* r) {
    if (r == nullptr) return;
    rte_mbuf* m;
    while (rte_ring_dequeue(r, reinterpret_cast<void**>(&m)) == 0) rte_pktmbuf_free(m);
    rte_ring_free(r);
}

}  // namespace

Dataplane::Dataplane(const DataplaneSpec& spec) : spec_(spec) {
    if (!eal_is_initialized()) throw StateError("EAL is not initialized: call eal_init first");
    trace_register_field();  // (the same offset again for a second data plane)
    if (spec_.ports.empty()) throw PortError("a dataplane needs at least one port");
    std::set<std::string> names;
    for (const auto& p : spec_.ports)
        if (!names.insert(p.name).second) throw PortError("port name '" + p.name + "' used twice");

    auto eal_workers = eal_worker_lcores();
    if (spec_.worker_lcores.empty()) spec_.worker_lcores = eal_workers;
    if (spec_.worker_lcores.empty())
        throw StateError("no worker lcore: give the EAL at least two lcores");
    for (unsigned l : spec_.worker_lcores)
        if (std::find(eal_workers.begin(), eal_workers.end(), l) == eal_workers.end())
            throw StateError("lcore " + std::to_string(l) + " is not an EAL worker lcore");
    const unsigned nworkers = unsigned(spec_.worker_lcores.size());
    for (const auto& p : spec_.ports)
        if (p.tx_queues < nworkers)
            throw PortError("port " + p.name + ": " + std::to_string(p.tx_queues) +
                            " tx queues for " + std::to_string(nworkers) +
                            " workers; each worker needs its own tx queue on every port");

    const std::string tag = spec_.name + std::to_string(g_instances++);
    tag_ = tag;
    for (auto& p : spec_.ports)
        p.vlan_strip = std::any_of(spec_.vlans.begin(), spec_.vlans.end(),
                                   [&](const VlanSpec& v) { return v.port == p.name; });
    for (const auto& p : spec_.ports) ports_.push_back(std::make_unique<Port>(p));
    make_ifaces();
    for (size_t i = 0; i < ifaces_.size(); ++i) kernel_ports_.push_back(make_kernel_port(i, tag));

    std::map<int, MempoolDemand> demand;
    for (const auto& port : ports_) {
        MempoolDemand& d = demand[port->socket()];
        const PortSpec& s = port->spec();
        // Ring ports hold up to the next power of two of their descriptors.
        uint64_t scale = port->is_ring() ? 2 : 1;
        d.descriptors += scale * (uint64_t(s.rx_queues) * s.rx_desc + uint64_t(s.tx_queues) * s.tx_desc);
        d.ports = unsigned(ports_.size());
        d.workers = nworkers;
    }
    for (const auto& kernel : kernel_ports_)
        if (kernel) demand[kernel->socket()].descriptors += kKernelDesc * 2;
    for (const auto& [socket, d] : demand) {
        uint64_t n = spec_.mbufs ? spec_.mbufs : mbufs_needed(d);
        pools_[socket] = std::make_unique<Mempool>("mb_" + tag + "_" + std::to_string(socket), n, socket);
    }

    rcu_ = std::make_unique<Rcu>(nworkers);
    // The slow path's own next hops (local, reserved, connected, neighbours)
    // live above the ids users see.
    const uint32_t internal = SlowPath::internal_hops(ifaces_.size(), spec_.slow);
    // Then the next hops of mirrored kernel routes (one per gateway).
    // (one block of ids per VRF whose kernel table is mirrored)
    const uint32_t kernel_hops =
        spec_.route_sync.enabled ? spec_.max_nexthops * uint32_t(synced_vrfs().size()) : 0;
    // Last, the two drop hops ACLs' deny and reject stand for, and with a
    // connection table its three (not established, table full, no NAT port).
    const uint32_t acl_hops = spec_.max_nexthops + internal + kernel_hops;
    hops_ = std::make_unique<NextHopTable>(acl_hops + 2 + (spec_.conntrack.max_sessions ? 3 : 0), *rcu_);
    make_acls(acl_hops);
    make_ct(acl_hops + 2, tag);
    make_vrfs();
    flows_ = std::make_unique<FlowTable>("flow_" + tag, spec_.max_rules, *hops_, *rcu_);
    flows6_ = std::make_unique<FlowTable6>("flow6_" + tag, spec_.max_rules, *hops_, *rcu_);
    std::vector<SlowPathPort> views;
    for (size_t i = 0; i < ifaces_.size(); ++i) {
        const Iface& f = ifaces_[i];
        const Port& port = *ports_[f.port];
        const uint16_t kernel = kernel_ports_[i] ? kernel_ports_[i]->id() : kNoKernelPort;
        views.push_back({port.id(), port.mac(), f.mtu, pools_.at(port.socket())->get(), kernel,
                         f.port, f.vlan, f.vrf_index});
    }
    slow_ = std::make_unique<SlowPath>(spec_.slow, views, *vrfs_, *hops_, *flows_,
                                       *flows6_, writer_, spec_.max_nexthops);
    {
        std::lock_guard<std::mutex> lock(writer_);
        slow_->install();
    }
    if (spec_.route_sync.enabled) make_route_sync(spec_.max_nexthops + internal);
    auto ring = [&](const std::string& name) {
        rte_ring* r = rte_ring_create(name.c_str(), kSlowRingSize, SOCKET_ID_ANY,
                                      RING_F_SP_ENQ | RING_F_SC_DEQ);
        if (r == nullptr)
            throw ResourceError("cannot create ring " + name + ": " + dpdk_strerror(rte_errno));
        return r;
    };
    for (unsigned i = 0; i < nworkers; ++i) punt_rings_.push_back(ring("punt_" + tag + "_" + std::to_string(i)));
    return_ring_ = ring("ret_" + tag);
    slow_->set_rings(punt_rings_, return_ring_);
    slow_->set_capture(&capture_slot_);
    slow_->set_trace(&trace_slot_);
    vrrp_macs_ = std::make_unique<VrrpMacs[]>(ifaces_.size());
    slow_->set_vrrp_macs(vrrp_macs_.get());
    slow_->set_periodic([this] {
        follow_links();
        if (ct_) ct_->sweep(ct_now_ms());
    });
    build_workers();
    make_controls();
    slow_->ra_configure(spec_.ra, [this](const std::string& name) {
        return controls_->context.port_index(name);  // PortError names the known ones
    });
}

void Dataplane::make_acls(uint32_t first_hop) {
    const AclHops ids{first_hop, first_hop + 1};
    for (auto [id, why] : {std::pair{ids.deny, DropReason::acl_deny}, std::pair{ids.reject, DropReason::acl_reject}}) {
        NextHop drop{};
        drop.action = HopAction::drop;
        drop.drop_reason = uint8_t(why);
        hops_->set(id, drop);
    }
    acls_ = std::make_unique<AclTable>(ifaces_.size(), unsigned(spec_.worker_lcores.size()), ids,
                                       spec_.acl_max_bytes, *rcu_);
}

void Dataplane::make_ct(uint32_t first_hop, const std::string& tag) {
    if (spec_.conntrack.max_sessions == 0) return;
    const CtTable::DropHops drops{first_hop, first_hop + 1, first_hop + 2};
    for (auto [id, why] : {std::pair{drops.refused, DropReason::not_established},
                           std::pair{drops.full, DropReason::conntrack_full},
                           std::pair{drops.no_port, DropReason::nat_no_port}}) {
        NextHop drop{};
        drop.action = HopAction::drop;
        drop.drop_reason = uint8_t(why);
        hops_->set(id, drop);
    }
    ct_ = std::make_unique<CtTable>(tag, spec_.conntrack.max_sessions, ifaces_.size(), *rcu_, drops);
    ct_->set_timeouts(spec_.conntrack.timeouts);
    // A mapping per session at most (sessions of one inside address:port share one).
    nat_ = std::make_unique<NatTable>(tag, spec_.conntrack.max_sessions, ifaces_.size(), *rcu_);
    ct_->on_release([nat = nat_.get()](uint32_t mapping) { nat->release(mapping); });
}

void Dataplane::make_controls() {
    std::vector<std::string> names;
    for (const Iface& f : ifaces_) names.push_back(f.name);
    std::vector<KernelRouteTable*> kernel_tables(vrfs_->size(), nullptr);
    for (size_t v = 0; v < kernel_routes_.size(); ++v) kernel_tables[v] = kernel_routes_[v].get();
    std::vector<RouteSync*> syncs;
    for (const auto& sync : route_syncs_) syncs.push_back(sync.get());
    controls_ = std::make_unique<Controls>(
        ControlContext(writer_, closed_, spec_.name, std::move(names), spec_.max_nexthops), *vrfs_,
        *hops_, *flows_, *flows6_, *slow_, kernel_tables, syncs, *acls_, spec_.max_acl_entries,
        ct_.get(), nat_.get(), capture_slot_, trace_slot_, unsigned(spec_.worker_lcores.size()), *rcu_, tag_);
}

void Dataplane::build_workers() {
    std::vector<RxQueue> all;
    for (uint16_t p = 0; p < ports_.size(); ++p)
        for (uint16_t q = 0; q < ports_[p]->spec().rx_queues; ++q)
            all.push_back({ports_[p]->id(), q, p, mac48(ports_[p]->mac()), kernel_ports_[p] != nullptr,
                           vlan_maps_[p].empty() ? nullptr : vlan_maps_[p].data()});
    for (unsigned i = 0; i < spec_.worker_lcores.size(); ++i) {
        auto w = std::make_unique<WorkerContext>();
        w->lcore = spec_.worker_lcores[i];
        w->rcu_thread_id = i;
        w->rcu = rcu_->get();
        w->index = i;
        w->tables = {iface_fib_.data(), iface_fib6_.data(), flows_.get(), flows6_.get(), hops_.get(),
                     acls_.get(), kernel_ifaces_.data(), spec_.verify_checksum, spec_.stage_clocks,
                     avx512_input(), ct_.get(), nat_.get(), iface_vrf_.data(), capture_slot_.pointer(),
                     trace_slot_.pointer(), vrrp_macs_.get()};
        for (size_t j = i; j < all.size(); j += spec_.worker_lcores.size()) w->rx.push_back(all[j]);
        w->tx_queue = uint16_t(i);
        auto* stats = static_cast<WorkerStats*>(
            rte_zmalloc_socket("worker_stats", sizeof(WorkerStats), kWorkerPage,
                               int(rte_lcore_to_socket_id(w->lcore))));
        if (stats == nullptr) throw ResourceError("cannot allocate worker counters");
        stats_.push_back(stats);
        w->stats = stats;
        auto* counters = static_cast<IfaceCounters*>(rte_zmalloc_socket(
            "iface_counters", sizeof(IfaceCounters) * ifaces_.size(), RTE_CACHE_LINE_SIZE,
            int(rte_lcore_to_socket_id(w->lcore))));
        if (counters == nullptr) throw ResourceError("cannot allocate interface counters");
        iface_counters_.push_back(counters);
        w->ifaces = counters;
        w->stop = &stop_;
        w->punt = punt_rings_[i];
        // Only the first worker sends what the slow path returns: one consumer.
        w->returns = i == 0 ? return_ring_ : nullptr;
        w->icmp_budget.configure(spec_.slow.icmp_rate, spec_.slow.icmp_burst);
        w->tx.resize(ports_.size());
        for (size_t p = 0; p < ports_.size(); ++p) w->tx[p].port_id = ports_[p]->id();
        workers_.push_back(std::move(w));
    }
}

Dataplane::~Dataplane() {
    try {
        close();
    } catch (...) {
    }
}

void Dataplane::check_open() const {
    if (closed_) throw StateError("dataplane '" + spec_.name + "' is closed");
}

void Dataplane::start() {
    std::lock_guard<std::mutex> lock(writer_);
    check_open();
    if (running_) return;
    for (const auto& w : workers_)
        if (rte_eal_get_lcore_state(w->lcore) != WAIT)
            throw StateError("lcore " + std::to_string(w->lcore) + " is busy (another dataplane?)");
    for (const auto& port : ports_) port->start(pools_.at(port->socket())->get());
    for (size_t i = 0; i < kernel_ports_.size(); ++i) {
        Port* kernel = kernel_ports_[i].get();
        // net_tap opens its queues by interface name: in the namespace the tap is in.
        if (kernel)
            in_netns(netns_of(ifaces_[i].vrf), [&] { kernel->start(pools_.at(kernel->socket())->get()); });
    }
    stop_.store(false);
    for (const auto& w : workers_) {
        int rc = rte_eal_remote_launch(worker_main, w.get(), w->lcore);
        if (rc != 0) {
            running_ = true;  // let stop_locked() collect the ones that did launch
            stop_locked();
            throw StateError("cannot launch worker on lcore " + std::to_string(w->lcore) + ": " +
                             dpdk_strerror(rc));
        }
    }
    running_ = true;
    slow_->start();
    for (const auto& sync : route_syncs_) sync->start();
}

void Dataplane::stop() {
    std::lock_guard<std::mutex> lock(writer_);
    check_open();
    stop_locked();
}

void Dataplane::stop_locked() {
    if (!running_) return;
    // The slow path and the route sync take the writer lock: they must not wait for us.
    writer_.unlock();
    for (const auto& sync : route_syncs_) sync->stop();
    slow_->stop();
    writer_.lock();
    stop_.store(true);
    for (const auto& w : workers_) rte_eal_wait_lcore(w->lcore);
    for (const auto& port : ports_) port->stop();
    for (const auto& kernel : kernel_ports_)
        if (kernel) kernel->stop();
    running_ = false;
}

void Dataplane::close() {
    std::scoped_lock lock(writer_, io_);
    if (closed_) return;
    stop_locked();
    if (controls_) controls_->trace.release();
    if (controls_) controls_->capture.release();  // (its copies are of the pools below)
    workers_.clear();
    for (auto* s : stats_) rte_free(s);
    stats_.clear();
    for (auto* c : iface_counters_) rte_free(c);
    iface_counters_.clear();
    route_syncs_.clear();
    kernel_routes_.clear();
    slow_.reset();
    for (rte_ring* r : punt_rings_) free_ring(r);
    punt_rings_.clear();
    free_ring(return_ring_);
    return_ring_ = nullptr;
    flows_.reset();
    flows6_.reset();
    acls_.reset();
    ct_.reset();
    nat_.reset();
    vrfs_.reset();
    hops_.reset();
    rcu_.reset();
    kernel_ports_.clear();
    ports_.clear();  // ports before pools: queues hold mbufs of the pools
    pools_.clear();
    closed_ = true;
}

std::vector<std::string> Dataplane::synced_vrfs() const {
    std::vector<std::string> out{kDefaultVrfName};
    for (const std::string& v : spec_.vrfs) out.push_back(v);
    auto has_kernel = [&](const std::string& vrf) {
        return std::any_of(ifaces_.begin(), ifaces_.end(), [&](const Iface& f) {
            return !f.kernel.empty() && (f.vrf.empty() ? kDefaultVrfName : f.vrf) == vrf;
        });
    };
    out.erase(std::remove_if(out.begin(), out.end(), [&](const std::string& v) { return !has_kernel(v); }),
              out.end());
    return out;
}

void Dataplane::make_route_sync(uint32_t first_hop) {
    const auto& s = spec_.route_sync;
    kernel_routes_.resize(vrfs_->size());
    for (const std::string& vrf : synced_vrfs()) {
        const uint16_t v = vrfs_->index(vrf);
        std::map<int, uint16_t> ifindex;
        in_netns(netns_of(vrf), [&] {  // (ifindexes are per namespace)
            for (uint16_t i = 0; i < ifaces_.size(); ++i) {
                const std::string& name = ifaces_[i].kernel;
                if (name.empty() || ifaces_[i].vrf_index != v) continue;
                const unsigned index = if_nametoindex(name.c_str());
                if (index == 0) throw PortError("kernel interface " + name + " is gone");
                ifindex[int(index)] = i;
            }
        });
        kernel_routes_[v] = std::make_unique<KernelRouteTable>(
            ifindex, std::set<uint8_t>(s.protocols.begin(), s.protocols.end()), vrfs_->fib(v),
            vrfs_->fib6(v), *hops_, *slow_, v, first_hop, spec_.max_nexthops);
        first_hop += spec_.max_nexthops;
        route_syncs_.push_back(std::make_unique<RouteSync>(s.table, s.receive_buffer,
                                                           *kernel_routes_[v], writer_, netns_of(vrf)));
    }
    if (route_syncs_.empty())
        throw PortError("route sync needs an interface with a kernel interface (ports[].kernel): "
                        "routes are mirrored from those");
}

void Dataplane::make_vrfs() {
    vrfs_ = std::make_unique<Vrfs>(
        spec_.vrfs,
        TableLimits{spec_.max_routes, spec_.tbl8_groups, spec_.max_routes6, spec_.tbl8_groups6},
        *hops_, *rcu_);
    for (Iface& f : ifaces_) {
        f.vrf_index = vrfs_->index(f.vrf);  // (make_ifaces() checked the name)
        iface_vrf_.push_back(f.vrf_index);
        iface_fib_.push_back(&vrfs_->fib(f.vrf_index));
        iface_fib6_.push_back(&vrfs_->fib6(f.vrf_index));
    }
}

void Dataplane::make_ifaces() {
    std::vector<Iface> ports;
    for (uint16_t i = 0; i < ports_.size(); ++i)
        ports.push_back({ports_[i]->spec().name, i, 0, ports_[i]->mtu(), ports_[i]->spec().kernel,
                         ports_[i]->spec().vrf});
    ifaces_ = appliance::make_ifaces(std::move(ports), spec_.vlans);
    for (Iface& f : ifaces_) {
        if (f.vrf == kDefaultVrfName) f.vrf.clear();
        if (!f.vrf.empty() && std::find(spec_.vrfs.begin(), spec_.vrfs.end(), f.vrf) == spec_.vrfs.end())
            throw PortError("interface " + f.name + ": unknown VRF '" + f.vrf + "'");
    }
    vlan_maps_ = vlan_maps(ifaces_, ports_.size());
    for (const Iface& f : ifaces_) kernel_ifaces_.push_back(!f.kernel.empty());
}

// A net_tap with the port's MAC and the interface's MTU: its kernel side is
// the interface routing daemons and sockets use (addresses are put on it from
// Python). A sub-interface's is a tap of its own, untagged: this needs no
// 802.1Q support in the kernel (the CI's kernel has none).
std::unique_ptr<Port> Dataplane::make_kernel_port(size_t index, const std::string& tag) const {
    const Iface& of = ifaces_[index];
    if (of.kernel.empty()) return nullptr;
    PortSpec s;
    s.name = of.name + " (kernel " + of.kernel + ")";
    s.device = "net_tap_k" + tag + "_" + std::to_string(index) + ",iface=" + of.kernel;
    s.rx_desc = s.tx_desc = kKernelDesc;
    s.mtu = of.mtu;
    s.mac = format_mac(ports_[of.port]->mac());
    s.rss = false;
    // Made from a thread in its VRF's namespace, the tap is born there, and
    // net_tap's own sockets (link, MTU, MAC) are bound to that namespace.
    std::unique_ptr<Port> port;
    in_netns(netns_of(of.vrf), [&] { port = std::make_unique<Port>(s); });
    return port;
}

// A kernel interface is up while its port's link is: routing daemons see the
// link go (zebra withdraws its connected routes, BGP drops the session at once)
// rather than waiting for their hold timers.
// VRRP hears of them here too: its interfaces and the tracked ones.
// (A net_tap's link is read through its fd: each port once, only when needed.)
void Dataplane::follow_links() {
    bool vrrp = false;
    for (size_t i = 0; i < ifaces_.size(); ++i)
        vrrp = vrrp || vrrp_macs_[i].configured.load(std::memory_order_relaxed) != 0;
    std::vector<int8_t> port_up(ports_.size(), -1);
    auto up = [&](size_t iface) {
        int8_t& known = port_up[ifaces_[iface].port];
        if (known < 0) known = ports_[ifaces_[iface].port]->link_up();
        return known == 1;
    };
    for (size_t i = 0; i < kernel_ports_.size(); ++i)
        if (kernel_ports_[i] && kernel_ports_[i]->link_up() != up(i)) kernel_ports_[i]->set_link(up(i));
    if (!vrrp) return;
    std::vector<bool> ups(ifaces_.size());
    for (size_t i = 0; i < ifaces_.size(); ++i) ups[i] = up(i);
    std::lock_guard<std::mutex> lock(writer_);
    slow_->vrrp_links(ups);
}


// ---- observability ----

std::vector<WorkerSnapshot> Dataplane::worker_stats() {
    std::lock_guard<std::mutex> lock(writer_);
    check_open();
    std::vector<WorkerSnapshot> out;
    for (size_t i = 0; i < workers_.size(); ++i) {
        WorkerSnapshot s{workers_[i]->lcore, {}, *stats_[i]};
        for (const RxQueue& q : workers_[i]->rx) {
            for (const auto& p : ports_)
                if (p->id() == q.port_id) s.rx_queues.emplace_back(p->spec().name, q.queue);
        }
        out.push_back(std::move(s));
    }
    return out;
}

std::vector<PortState> Dataplane::port_states() {
    std::lock_guard<std::mutex> lock(writer_);
    check_open();
    std::vector<PortState> out;
    for (const auto& p : ports_) out.push_back(p->state());
    return out;
}

std::map<std::string, std::map<std::string, uint64_t>> Dataplane::port_counters() {
    std::lock_guard<std::mutex> lock(writer_);
    check_open();
    std::map<std::string, std::map<std::string, uint64_t>> out;
    for (const auto& p : ports_) out[p->spec().name] = p->counters();
    return out;
}

std::vector<IfaceSnapshot> Dataplane::interfaces() {
    std::lock_guard<std::mutex> lock(writer_);
    check_open();
    std::vector<IfaceSnapshot> out;
    for (size_t i = 0; i < ifaces_.size(); ++i) {
        IfaceCounters sum{};
        if (ifaces_[i].vlan == 0) {  // the port's own: everything it moved, as Linux counts
            const auto c = ports_[ifaces_[i].port]->counters();
            sum = {c.at("ipackets"), c.at("ibytes"), c.at("opackets"), c.at("obytes")};
        } else {
            for (const IfaceCounters* w : iface_counters_) {
                sum.rx_packets += w[i].rx_packets;
                sum.rx_bytes += w[i].rx_bytes;
                sum.tx_packets += w[i].tx_packets;
                sum.tx_bytes += w[i].tx_bytes;
            }
        }
        out.push_back({ifaces_[i], sum});
    }
    return out;
}

Port& Dataplane::physical_port(const std::string& name) {
    const size_t index = port_index(name);
    if (index >= ports_.size())
        throw PortError(name + " is a sub-interface: frames go through its port, tagged");
    return *ports_[index];
}

std::vector<MempoolSnapshot> Dataplane::mempools() {
    std::lock_guard<std::mutex> lock(writer_);
    check_open();
    std::vector<MempoolSnapshot> out;
    for (const auto& [socket, pool] : pools_)
        out.push_back({pool->get()->name, socket, pool->size(), pool->in_use()});
    return out;
}

// ---- ring port I/O ----

unsigned Dataplane::inject(const std::string& port, const std::vector<std::string>& frames,
                           uint16_t queue) {
    // Not the writer lock: test traffic keeps flowing while tables change.
    std::lock_guard<std::mutex> lock(io_);
    check_open();
    Port& p = physical_port(port);
    rte_ring* ring = p.rx_ring(queue);
    rte_mempool* pool = pools_.at(p.socket())->get();
    unsigned sent = 0;
    for (const std::string& f : frames) {
        rte_mbuf* m = rte_pktmbuf_alloc(pool);
        if (m == nullptr) throw ResourceError("inject: mempool exhausted after " + std::to_string(sent) + " frames");
        char* data = rte_pktmbuf_append(m, uint16_t(f.size()));
        if (f.size() > UINT16_MAX || data == nullptr) {
            rte_pktmbuf_free(m);
            throw PortError("inject: frame of " + std::to_string(f.size()) + " bytes does not fit an mbuf");
        }
        memcpy(data, f.data(), f.size());
        if (rte_ring_enqueue(ring, m) != 0) {  // full: the caller keeps the rest
            rte_pktmbuf_free(m);
            break;
        }
        ++sent;
    }
    return sent;
}

std::vector<std::string> Dataplane::drain(const std::string& port) {
    std::lock_guard<std::mutex> lock(io_);
    check_open();
    Port& p = physical_port(port);
    std::vector<std::string> out;
    for (uint16_t q = 0; q < p.spec().tx_queues; ++q) {
        rte_mbuf* m;
        while (rte_ring_dequeue(p.tx_ring(q), reinterpret_cast<void**>(&m)) == 0) {
            std::string frame(rte_pktmbuf_pkt_len(m), '\0');
            // rte_pktmbuf_read copies only when the data is not contiguous.
            const void* src = rte_pktmbuf_read(m, 0, uint32_t(frame.size()), frame.data());
            if (src != frame.data()) memcpy(frame.data(), src, frame.size());
            out.push_back(std::move(frame));
            rte_pktmbuf_free(m);
        }
    }
    return out;
}

bool Dataplane::quiesce(double timeout_s) {
    auto deadline = std::chrono::steady_clock::now() + std::chrono::duration<double>(timeout_s);
    {
        std::lock_guard<std::mutex> lock(writer_);
        check_open();
        if (!running_) return true;
    }
    for (;;) {
        bool empty = true;
        for (const auto& p : ports_)
            if (p->is_ring())
                for (uint16_t q = 0; q < p->spec().rx_queues; ++q)
                    empty = empty && rte_ring_empty(p->rx_ring(q));
        if (empty) break;
        if (std::chrono::steady_clock::now() > deadline) return false;
        std::this_thread::sleep_for(std::chrono::microseconds(100));
    }
    // Workers report quiescence after flushing: one grace period later every
    // frame taken from the rings is transmitted, counted or punted; then the
    // slow path must have taken every punt and workers sent what it returned.
    for (int round = 0; round < 2; ++round) {
        {
            std::lock_guard<std::mutex> lock(writer_);
            rcu_->synchronize();
        }
        while (!slow_->idle()) {
            if (std::chrono::steady_clock::now() > deadline) return false;
            std::this_thread::sleep_for(std::chrono::microseconds(100));
        }
    }
    std::lock_guard<std::mutex> lock(writer_);
    rcu_->synchronize();
    return true;
}

}  // namespace appliance
