#include "core/dataplane.h"

#include <algorithm>
#include <chrono>
#include <set>
#include <thread>

#include <arpa/inet.h>
#include <net/if.h>
#include <rte_launch.h>
#include <rte_lcore.h>
#include <rte_malloc.h>
#include <rte_ring.h>

#include "core/eal.h"
#include "core/errors.h"
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

bool is_ipv6(const std::string& text) { return text.find(':') != std::string::npos; }

// A host address of either family, refused unless unicast; errors as `Error`.
template <class Error>
IpAddr parse_unicast(const std::string& text, const std::string& what) {
    if (is_ipv6(text)) {
        Ipv6Address a{};
        if (inet_pton(AF_INET6, text.c_str(), a.data()) != 1)
            throw Error(what + " '" + text + "' is not an IPv4 or IPv6 address");
        if (a[0] == 0xff || ipv6_unspecified(a.data()) || ipv6_loopback(a.data()) ||
            ipv6_v4mapped(a.data()))
            throw Error(what + " " + text + " is not a unicast address");
        return IpAddr::v6(a);
    }
    in_addr a{};
    if (inet_pton(AF_INET, text.c_str(), &a) != 1)
        throw Error(what + " '" + text + "' is not an IPv4 or IPv6 address");
    if (martian_source(a.s_addr) || a.s_addr == 0xffffffffu)
        throw Error(what + " " + text + " is not a unicast address");
    return IpAddr::v4(ntohl(a.s_addr));
}

// "192.0.2.1/24" or "2001:db8::1/64": the address and its prefix length.
std::pair<IpAddr, uint8_t> parse_address(const std::string& text) {
    if (!is_ipv6(text)) {
        try {
            const auto [ip, depth] = parse_interface(text);
            return {IpAddr::v4(ip), depth};
        } catch (const RouteError& e) {
            throw AddressError(e.what());
        }
    }
    const auto slash = text.find('/');
    if (slash == std::string::npos)
        throw AddressError("'" + text + "': an address needs its prefix length, like 2001:db8::1/64");
    const std::string len = text.substr(slash + 1);
    if (len.empty() || len.size() > 3 || !std::all_of(len.begin(), len.end(), ::isdigit) ||
        std::stoi(len) < 1 || std::stoi(len) > 128)
        throw AddressError("'" + text + "': prefix length must be a number 1..128");
    return {parse_unicast<AddressError>(text.substr(0, slash), "address"), uint8_t(std::stoi(len))};
}

rte_ether_addr parse_mac(const std::string& text, const std::string& what) {
    rte_ether_addr mac{};
    if (text.size() != 17 || rte_ether_unformat_addr(text.c_str(), &mac) != 0)
        throw NextHopError(what + " '" + text + "' is not a MAC address like 02:00:00:00:00:01");
    // A group or zero MAC as either end of a frame makes every switch flood or drop it.
    if (!rte_is_unicast_ether_addr(&mac) || rte_is_zero_ether_addr(&mac))
        throw NextHopError(what + " '" + text + "' is not a unicast MAC (multicast, broadcast "
                           "and 00:00:00:00:00:00 are refused)");
    return mac;
}

}  // namespace

Dataplane::Dataplane(const DataplaneSpec& spec) : spec_(spec) {
    if (!eal_is_initialized()) throw StateError("EAL is not initialized: call eal_init first");
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
    for (const auto& p : spec_.ports) ports_.push_back(std::make_unique<Port>(p));
    for (size_t i = 0; i < ports_.size(); ++i) kernel_ports_.push_back(make_kernel_port(i, tag));

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
    const uint32_t internal = SlowPath::internal_hops(ports_.size(), spec_.slow);
    // Then the next hops of mirrored kernel routes (one per gateway).
    const uint32_t kernel_hops = spec_.route_sync.enabled ? spec_.max_nexthops : 0;
    hops_ = std::make_unique<NextHopTable>(spec_.max_nexthops + internal + kernel_hops, *rcu_);
    fib_ = std::make_unique<Fib>(spec_.max_routes, spec_.tbl8_groups, *hops_, *rcu_);
    fib6_ = std::make_unique<Fib6>(spec_.max_routes6, spec_.tbl8_groups6, *hops_, *rcu_);
    flows_ = std::make_unique<FlowTable>("flow_" + tag, spec_.max_rules, *hops_, *rcu_);
    flows6_ = std::make_unique<FlowTable6>("flow6_" + tag, spec_.max_rules, *hops_, *rcu_);
    std::vector<SlowPathPort> views;
    for (size_t i = 0; i < ports_.size(); ++i) {
        const Port& port = *ports_[i];
        const uint16_t kernel = kernel_ports_[i] ? kernel_ports_[i]->id() : kNoKernelPort;
        views.push_back({port.id(), port.mac(), port.mtu(), pools_.at(port.socket())->get(), kernel});
    }
    slow_ = std::make_unique<SlowPath>(spec_.slow, views, *fib_, *fib6_, *hops_, *flows_,
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
    slow_->set_periodic([this] { follow_links(); });
    build_workers();
}

void Dataplane::build_workers() {
    std::vector<RxQueue> all;
    for (uint16_t p = 0; p < ports_.size(); ++p)
        for (uint16_t q = 0; q < ports_[p]->spec().rx_queues; ++q)
            all.push_back({ports_[p]->id(), q, p, mac48(ports_[p]->mac()), kernel_ports_[p] != nullptr});
    for (unsigned i = 0; i < spec_.worker_lcores.size(); ++i) {
        auto w = std::make_unique<WorkerContext>();
        w->lcore = spec_.worker_lcores[i];
        w->rcu_thread_id = i;
        w->rcu = rcu_->get();
        w->tables = {fib_.get(), fib6_.get(), flows_.get(), flows6_.get(), hops_.get(),
                     spec_.verify_checksum, spec_.stage_clocks, avx512_input()};
        for (size_t j = i; j < all.size(); j += spec_.worker_lcores.size()) w->rx.push_back(all[j]);
        w->tx_queue = uint16_t(i);
        auto* stats = static_cast<WorkerStats*>(
            rte_zmalloc_socket("worker_stats", sizeof(WorkerStats), RTE_CACHE_LINE_SIZE,
                               int(rte_lcore_to_socket_id(w->lcore))));
        if (stats == nullptr) throw ResourceError("cannot allocate worker counters");
        stats_.push_back(stats);
        w->stats = stats;
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
    for (const auto& kernel : kernel_ports_)
        if (kernel) kernel->start(pools_.at(kernel->socket())->get());
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
    if (route_sync_) route_sync_->start();
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
    if (route_sync_) route_sync_->stop();
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
    workers_.clear();
    for (auto* s : stats_) rte_free(s);
    stats_.clear();
    route_sync_.reset();
    kernel_routes_.reset();
    slow_.reset();
    for (rte_ring* r : punt_rings_) free_ring(r);
    punt_rings_.clear();
    free_ring(return_ring_);
    return_ring_ = nullptr;
    flows_.reset();
    flows6_.reset();
    fib_.reset();
    fib6_.reset();
    hops_.reset();
    rcu_.reset();
    kernel_ports_.clear();
    ports_.clear();  // ports before pools: queues hold mbufs of the pools
    pools_.clear();
    closed_ = true;
}

void Dataplane::make_route_sync(uint32_t first_hop) {
    std::map<int, uint16_t> ifindex;
    for (uint16_t i = 0; i < ports_.size(); ++i) {
        const std::string& name = ports_[i]->spec().kernel;
        if (name.empty()) continue;
        const unsigned index = if_nametoindex(name.c_str());
        if (index == 0) throw PortError("kernel interface " + name + " is gone");
        ifindex[int(index)] = i;
    }
    if (ifindex.empty())
        throw PortError("route sync needs a port with a kernel interface (ports[].kernel): "
                        "routes are mirrored from those");
    const auto& s = spec_.route_sync;
    kernel_routes_ = std::make_unique<KernelRouteTable>(
        ifindex, std::set<uint8_t>(s.protocols.begin(), s.protocols.end()), *fib_, *fib6_, *hops_,
        *slow_, first_hop, spec_.max_nexthops);
    route_sync_ = std::make_unique<RouteSync>(s.table, s.receive_buffer, *kernel_routes_, writer_);
}

// A net_tap with the port's MAC and MTU: its kernel side is the interface
// routing daemons and sockets use (addresses are put on it from Python).
std::unique_ptr<Port> Dataplane::make_kernel_port(size_t index, const std::string& tag) const {
    const PortSpec& of = ports_[index]->spec();
    if (of.kernel.empty()) return nullptr;
    PortSpec s;
    s.name = of.name + " (kernel " + of.kernel + ")";
    s.device = "net_tap_k" + tag + "_" + std::to_string(index) + ",iface=" + of.kernel;
    s.rx_desc = s.tx_desc = kKernelDesc;
    s.mtu = ports_[index]->mtu();
    s.mac = format_mac(ports_[index]->mac());
    s.rss = false;
    return std::make_unique<Port>(s);
}

// A kernel interface is up while its port's link is: routing daemons see the
// link go (zebra withdraws its connected routes, BGP drops the session at once)
// rather than waiting for their hold timers.
void Dataplane::follow_links() {
    for (size_t i = 0; i < kernel_ports_.size(); ++i) {
        if (!kernel_ports_[i]) continue;
        const bool up = ports_[i]->link_up();
        if (kernel_ports_[i]->link_up() != up) kernel_ports_[i]->set_link(up);
    }
}

size_t Dataplane::port_index(const std::string& name) const {
    for (size_t i = 0; i < ports_.size(); ++i)
        if (ports_[i]->spec().name == name) return i;
    std::string known;
    for (const auto& p : ports_) known += (known.empty() ? "" : ", ") + p->spec().name;
    throw PortError("unknown port '" + name + "' (ports: " + known + ")");
}

// ---- routes ----

void Dataplane::check_user_route(const Route& r) const {
    slow_->check_user_route(IpAddr::v4(r.ip), r.depth);
    if (r.nexthop >= spec_.max_nexthops)
        throw NextHopError("next hop " + std::to_string(r.nexthop) + " out of range 0.." +
                           std::to_string(spec_.max_nexthops - 1));
}

Route6 Dataplane::user_route6(const std::string& prefix, uint32_t nexthop) const {
    Route6 r = parse_prefix6(prefix);
    r.nexthop = nexthop;
    // (IPv4-mapped prefixes would read as IPv4 where both families share a key.)
    if (r.depth >= 96 && ipv6_v4mapped(r.ip.data()))
        throw RouteError(prefix + ": inside ::ffff:0:0/96, IPv4-mapped addresses are never "
                         "on the wire (RFC 4291 2.5.5.2)");
    slow_->check_user_route(IpAddr::v6(r.ip), r.depth);
    if (nexthop >= spec_.max_nexthops)
        throw NextHopError("next hop " + std::to_string(nexthop) + " out of range 0.." +
                           std::to_string(spec_.max_nexthops - 1));
    return r;
}

// A user route now on this prefix: a host route of the slow path's, or a
// kernel route, is shadowed by it.
void Dataplane::user_route_added(const IpAddr& prefix, uint8_t depth) {
    slow_->user_route_added(prefix, depth);
    if (kernel_routes_) kernel_routes_->user_route_added(prefix, depth);
}

// Deleting what is only the kernel's is refused: its daemon would not know.
void Dataplane::check_not_kernel_route(const IpAddr& prefix, uint8_t depth,
                                       const std::string& text) const {
    if (!kernel_routes_ || !kernel_routes_->has(prefix, depth)) return;
    for (const KernelRouteInfo& k : kernel_routes_->list())
        if (k.prefix == prefix && k.depth == depth && !k.shadowed)
            throw RouteError(text + ": is a route from the kernel table (protocol " +
                             std::to_string(k.protocol) + "); it goes when its routing "
                             "daemon withdraws it (force: out of the FIB until it changes or a resync)");
}

void Dataplane::route_add(const std::string& prefix, uint32_t nexthop) {
    std::lock_guard<std::mutex> lock(writer_);
    check_open();
    if (is_ipv6(prefix)) {
        const Route6 r = user_route6(prefix, nexthop);
        fib6_->add(r);
        user_route_added(IpAddr::v6(r.ip), r.depth);
        return;
    }
    Route r = parse_prefix(prefix);
    r.nexthop = nexthop;
    check_user_route(r);
    fib_->add(r);
    user_route_added(IpAddr::v4(r.ip), r.depth);
}

void Dataplane::route_add_bulk(const std::vector<std::string>& prefixes,
                               const std::vector<uint32_t>& nexthops) {
    std::lock_guard<std::mutex> lock(writer_);
    check_open();
    if (prefixes.size() != nexthops.size())
        throw RouteError("bulk add: " + std::to_string(prefixes.size()) + " prefixes but " +
                         std::to_string(nexthops.size()) + " next hops");
    std::vector<Route> rs;
    std::vector<Route6> rs6;
    rs.reserve(prefixes.size());
    for (size_t i = 0; i < prefixes.size(); ++i) {
        if (is_ipv6(prefixes[i])) {
            rs6.push_back(user_route6(prefixes[i], nexthops[i]));
            continue;
        }
        Route r = parse_prefix(prefixes[i]);
        r.nexthop = nexthops[i];
        check_user_route(r);
        rs.push_back(r);
    }
    // All or nothing across both tables: IPv6 first, taken back if IPv4 fails.
    std::vector<std::optional<uint32_t>> before6;
    for (const Route6& r : rs6) before6.push_back(fib6_->get(r.ip, r.depth));
    fib6_->add_bulk(rs6);
    try {
        fib_->add_bulk(rs);
    } catch (...) {
        for (size_t i = rs6.size(); i-- > 0;) {
            if (before6[i]) fib6_->add({rs6[i].ip, rs6[i].depth, *before6[i]});
            else fib6_->remove(rs6[i].ip, rs6[i].depth);
        }
        throw;
    }
    for (const Route& r : rs) user_route_added(IpAddr::v4(r.ip), r.depth);
    for (const Route6& r : rs6) user_route_added(IpAddr::v6(r.ip), r.depth);
}

void Dataplane::route_delete(const std::string& prefix) {
    std::lock_guard<std::mutex> lock(writer_);
    check_open();
    if (is_ipv6(prefix)) {
        const Route6 r = parse_prefix6(prefix);
        if (slow_->owns_route(IpAddr::v6(r.ip), r.depth))
            throw RouteError(prefix + ": is a route of a port address or neighbour, not a user route");
        check_not_kernel_route(IpAddr::v6(r.ip), r.depth, prefix);
        fib6_->remove(r.ip, r.depth);
        if (kernel_routes_) kernel_routes_->user_route_deleted(IpAddr::v6(r.ip), r.depth);
        return;
    }
    Route r = parse_prefix(prefix);
    if (slow_->owns_route(IpAddr::v4(r.ip), r.depth))
        throw RouteError(prefix + ": is a route of a port address or neighbour, not a user route");
    check_not_kernel_route(IpAddr::v4(r.ip), r.depth, prefix);
    fib_->remove(r.ip, r.depth);
    if (kernel_routes_) kernel_routes_->user_route_deleted(IpAddr::v4(r.ip), r.depth);
}

void Dataplane::kernel_route_delete(const std::string& prefix) {
    std::lock_guard<std::mutex> lock(writer_);
    check_open();
    bool forgotten = false;
    if (kernel_routes_ && is_ipv6(prefix)) {
        const Route6 r = parse_prefix6(prefix);
        forgotten = kernel_routes_->forget(IpAddr::v6(r.ip), r.depth);
    } else if (kernel_routes_) {
        const Route r = parse_prefix(prefix);
        forgotten = kernel_routes_->forget(IpAddr::v4(r.ip), r.depth);
    }
    if (!forgotten) throw RouteError(prefix + ": no route from the kernel table on this prefix");
}

std::vector<Route> Dataplane::routes() {
    std::lock_guard<std::mutex> lock(writer_);
    check_open();
    std::vector<Route> out = fib_->list();
    out.erase(std::remove_if(out.begin(), out.end(), [&](const Route& r) {
        return r.nexthop >= spec_.max_nexthops;
    }), out.end());
    return out;
}

std::vector<Route6> Dataplane::routes6() {
    std::lock_guard<std::mutex> lock(writer_);
    check_open();
    std::vector<Route6> out = fib6_->list();
    out.erase(std::remove_if(out.begin(), out.end(), [&](const Route6& r) {
        return r.nexthop >= spec_.max_nexthops;
    }), out.end());
    return out;
}

size_t Dataplane::route_count() {
    std::lock_guard<std::mutex> lock(writer_);
    check_open();
    return fib_->user_routes() + fib6_->user_routes();
}

std::optional<uint32_t> Dataplane::route_lookup(const std::string& address) {
    std::lock_guard<std::mutex> lock(writer_);
    check_open();
    if (is_ipv6(address)) return fib6_->lookup(parse_ipv6(address));
    in_addr a{};
    if (inet_pton(AF_INET, address.c_str(), &a) != 1)
        throw RouteError("'" + address + "' is not an IPv4 or IPv6 address");
    return fib_->lookup(ntohl(a.s_addr));
}

uint32_t Dataplane::tbl8_groups_in_use() {
    std::lock_guard<std::mutex> lock(writer_);
    check_open();
    return fib_->tbl8_groups_in_use();
}

uint32_t Dataplane::tbl8_groups6_in_use() {
    std::lock_guard<std::mutex> lock(writer_);
    check_open();
    return fib6_->groups_in_use();
}

// ---- next hops ----

void Dataplane::nexthop_set(uint32_t id, const std::string& port, const std::string& dst_mac,
                            const std::string& src_mac) {
    std::lock_guard<std::mutex> lock(writer_);
    check_open();
    size_t idx = port_index(port);
    if (id >= spec_.max_nexthops)
        throw NextHopError("next hop " + std::to_string(id) + " out of range 0.." +
                           std::to_string(spec_.max_nexthops - 1));
    NextHop hop = slow_->port_hop(uint16_t(idx), HopAction::forward);
    hop.dst = parse_mac(dst_mac, "next hop " + std::to_string(id) + " dst MAC");
    if (!src_mac.empty()) hop.src = parse_mac(src_mac, "next hop " + std::to_string(id) + " src MAC");
    hops_->set(id, hop);
    slow_->gateway_clear(id);
}

void Dataplane::nexthop_set_gateway(uint32_t id, const std::string& port,
                                    const std::string& gateway) {
    std::lock_guard<std::mutex> lock(writer_);
    check_open();
    size_t idx = port_index(port);
    if (id >= spec_.max_nexthops)
        throw NextHopError("next hop " + std::to_string(id) + " out of range 0.." +
                           std::to_string(spec_.max_nexthops - 1));
    const IpAddr gw = parse_unicast<NextHopError>(gateway, "next hop " + std::to_string(id) + ": gateway");
    slow_->gateway_clear(id);
    slow_->gateway_set(id, uint16_t(idx), gw);
}

std::optional<std::string> Dataplane::nexthop_gateway(uint32_t id) {
    std::lock_guard<std::mutex> lock(writer_);
    check_open();
    auto key = slow_->gateway_of(id);
    if (!key) return std::nullopt;
    return format_ip(*key);
}

void Dataplane::nexthop_delete(uint32_t id) {
    std::lock_guard<std::mutex> lock(writer_);
    check_open();
    if (id >= spec_.max_nexthops)
        throw NextHopError("next hop " + std::to_string(id) + " out of range 0.." +
                           std::to_string(spec_.max_nexthops - 1));
    hops_->remove(id);
    slow_->gateway_clear(id);
}

std::vector<NextHopInfo> Dataplane::nexthops() {
    std::lock_guard<std::mutex> lock(writer_);
    check_open();
    return hops_->list(spec_.max_nexthops);
}

// ---- addresses and neighbours ----

void Dataplane::address_add(const std::string& port, const std::string& prefix) {
    std::lock_guard<std::mutex> lock(writer_);
    check_open();
    size_t idx = port_index(port);
    const auto [ip, depth] = parse_address(prefix);
    slow_->address_add(uint16_t(idx), ip, depth);
}

void Dataplane::address_delete(const std::string& port, const std::string& prefix) {
    std::lock_guard<std::mutex> lock(writer_);
    check_open();
    size_t idx = port_index(port);
    const auto [ip, depth] = parse_address(prefix);
    slow_->address_delete(uint16_t(idx), ip, depth);
}

std::vector<AddressInfo> Dataplane::addresses() {
    std::lock_guard<std::mutex> lock(writer_);
    check_open();
    return slow_->addresses();
}

void Dataplane::neighbor_add(const std::string& port, const std::string& ip,
                             const std::string& mac) {
    std::lock_guard<std::mutex> lock(writer_);
    check_open();
    size_t idx = port_index(port);
    rte_ether_addr m{};
    if (mac.size() != 17 || rte_ether_unformat_addr(mac.c_str(), &m) != 0)
        throw NeighborError("'" + mac + "' is not a MAC address like 02:00:00:00:00:01");
    if (!rte_is_unicast_ether_addr(&m) || rte_is_zero_ether_addr(&m))
        throw NeighborError("'" + mac + "' is not a unicast MAC (multicast, broadcast and "
                            "00:00:00:00:00:00 are refused)");
    slow_->neighbor_add(uint16_t(idx), parse_unicast<NeighborError>(ip, "neighbour"), m);
}

void Dataplane::neighbor_delete(const std::string& port, const std::string& ip) {
    std::lock_guard<std::mutex> lock(writer_);
    check_open();
    size_t idx = port_index(port);
    slow_->neighbor_delete(uint16_t(idx), parse_unicast<NeighborError>(ip, "neighbour"));
}

std::vector<NeighborInfo> Dataplane::neighbors() {
    std::lock_guard<std::mutex> lock(writer_);
    check_open();
    return slow_->neighbors();
}

std::vector<KernelRouteInfo> Dataplane::kernel_routes() {
    std::lock_guard<std::mutex> lock(writer_);
    check_open();
    return kernel_routes_ ? kernel_routes_->list() : std::vector<KernelRouteInfo>{};
}

RouteSyncStats Dataplane::route_sync_stats() {
    std::lock_guard<std::mutex> lock(writer_);
    check_open();
    if (!kernel_routes_) return {};
    RouteSyncStats s = kernel_routes_->stats();
    s.routes = 0;
    s.shadowed = 0;
    for (const KernelRouteInfo& k : kernel_routes_->list()) {
        s.routes++;
        s.shadowed += k.shadowed;
    }
    return s;
}

std::string Dataplane::route_sync_error() {
    return route_sync_ ? route_sync_->last_error() : std::string();
}

bool Dataplane::route_sync_synced() { return route_sync_ && route_sync_->synced(); }

void Dataplane::route_sync_resync() {
    if (!route_sync_) throw StateError("route sync is off");
    route_sync_->request_resync();
}

SlowPathStats Dataplane::slowpath_stats() {
    std::lock_guard<std::mutex> lock(writer_);
    check_open();
    return slow_->stats();
}

unsigned Dataplane::held_packets(bool generated) {
    std::lock_guard<std::mutex> lock(writer_);
    check_open();
    return slow_->held_packets(generated);
}

// ---- rules ----

// One body for both families: the table is the one of the key's type.
template <class Table>
void Dataplane::add_rule(Table& table, const typename Table::RuleT& rule) {
    std::lock_guard<std::mutex> lock(writer_);
    check_open();
    if (rule.action != RuleAction::forward && rule.action != RuleAction::drop)
        throw RuleError("rule " + describe(rule.key) + ": action must be forward or drop");
    table.add(rule);
}

template <class Table, class Key>
void Dataplane::delete_rule(Table& table, const Key& key) {
    std::lock_guard<std::mutex> lock(writer_);
    check_open();
    table.remove(key);
}

template <class Table>
std::vector<typename Table::RuleT> Dataplane::list_rules(const Table& table) {
    std::lock_guard<std::mutex> lock(writer_);
    check_open();
    return table.list();
}

void Dataplane::rule_add(const Rule& rule) { add_rule(*flows_, rule); }
void Dataplane::rule_add(const Rule6& rule) { add_rule(*flows6_, rule); }
void Dataplane::rule_delete(const FlowKey& key) { delete_rule(*flows_, key); }
void Dataplane::rule_delete(const FlowKey6& key) { delete_rule(*flows6_, key); }
std::vector<Rule> Dataplane::rules() { return list_rules(*flows_); }
std::vector<Rule6> Dataplane::rules6() { return list_rules(*flows6_); }

size_t Dataplane::rule_count() {
    std::lock_guard<std::mutex> lock(writer_);
    check_open();
    return flows_->size() + flows6_->size();
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
    Port& p = *ports_[port_index(port)];
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
    Port& p = *ports_[port_index(port)];
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
