#include "dataplane.h"

#include <algorithm>
#include <chrono>
#include <set>
#include <thread>

#include <arpa/inet.h>
#include <rte_launch.h>
#include <rte_lcore.h>
#include <rte_malloc.h>
#include <rte_ring.h>

#include "eal.h"
#include "errors.h"

namespace appliance {

namespace {

std::atomic<unsigned> g_instances{0};

rte_ether_addr parse_mac(const std::string& text, const std::string& what) {
    rte_ether_addr mac{};
    if (text.size() != 17 || rte_ether_unformat_addr(text.c_str(), &mac) != 0)
        throw NextHopError(what + " '" + text + "' is not a MAC address like 02:00:00:00:00:01");
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
    for (const auto& [socket, d] : demand) {
        uint64_t n = spec_.mbufs ? spec_.mbufs : mbufs_needed(d);
        pools_[socket] = std::make_unique<Mempool>("mb_" + tag + "_" + std::to_string(socket), n, socket);
    }

    rcu_ = std::make_unique<Rcu>(nworkers);
    hops_ = std::make_unique<NextHopTable>(spec_.max_nexthops, *rcu_);
    fib_ = std::make_unique<Fib>(spec_.max_routes, spec_.tbl8_groups, *hops_, *rcu_);
    flows_ = std::make_unique<FlowTable>("flow_" + tag, spec_.max_rules, *hops_, *rcu_);
    build_workers();
}

void Dataplane::build_workers() {
    std::vector<RxQueue> all;
    for (const auto& port : ports_)
        for (uint16_t q = 0; q < port->spec().rx_queues; ++q) all.push_back({port->id(), q});
    for (unsigned i = 0; i < spec_.worker_lcores.size(); ++i) {
        auto w = std::make_unique<WorkerContext>();
        w->lcore = spec_.worker_lcores[i];
        w->rcu_thread_id = i;
        w->rcu = rcu_->get();
        w->tables = {fib_.get(), flows_.get(), hops_.get(), spec_.verify_checksum};
        for (size_t j = i; j < all.size(); j += spec_.worker_lcores.size()) w->rx.push_back(all[j]);
        w->tx_queue = uint16_t(i);
        auto* stats = static_cast<WorkerStats*>(
            rte_zmalloc_socket("worker_stats", sizeof(WorkerStats), RTE_CACHE_LINE_SIZE,
                               int(rte_lcore_to_socket_id(w->lcore))));
        if (stats == nullptr) throw ResourceError("cannot allocate worker counters");
        stats_.push_back(stats);
        w->stats = stats;
        w->stop = &stop_;
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
}

void Dataplane::stop() {
    std::lock_guard<std::mutex> lock(writer_);
    check_open();
    stop_locked();
}

void Dataplane::stop_locked() {
    if (!running_) return;
    stop_.store(true);
    for (const auto& w : workers_) rte_eal_wait_lcore(w->lcore);
    for (const auto& port : ports_) port->stop();
    running_ = false;
}

void Dataplane::close() {
    std::scoped_lock lock(writer_, io_);
    if (closed_) return;
    stop_locked();
    workers_.clear();
    for (auto* s : stats_) rte_free(s);
    stats_.clear();
    flows_.reset();
    fib_.reset();
    hops_.reset();
    rcu_.reset();
    ports_.clear();  // ports before pools: queues hold mbufs of the pools
    pools_.clear();
    closed_ = true;
}

size_t Dataplane::port_index(const std::string& name) const {
    for (size_t i = 0; i < ports_.size(); ++i)
        if (ports_[i]->spec().name == name) return i;
    std::string known;
    for (const auto& p : ports_) known += (known.empty() ? "" : ", ") + p->spec().name;
    throw PortError("unknown port '" + name + "' (ports: " + known + ")");
}

// ---- routes ----

void Dataplane::route_add(const std::string& prefix, uint32_t nexthop) {
    std::lock_guard<std::mutex> lock(writer_);
    check_open();
    Route r = parse_prefix(prefix);
    r.nexthop = nexthop;
    fib_->add(r);
}

void Dataplane::route_add_bulk(const std::vector<std::string>& prefixes,
                               const std::vector<uint32_t>& nexthops) {
    std::lock_guard<std::mutex> lock(writer_);
    check_open();
    if (prefixes.size() != nexthops.size())
        throw RouteError("bulk add: " + std::to_string(prefixes.size()) + " prefixes but " +
                         std::to_string(nexthops.size()) + " next hops");
    std::vector<Route> rs;
    rs.reserve(prefixes.size());
    for (size_t i = 0; i < prefixes.size(); ++i) {
        Route r = parse_prefix(prefixes[i]);
        r.nexthop = nexthops[i];
        rs.push_back(r);
    }
    fib_->add_bulk(rs);
}

void Dataplane::route_delete(const std::string& prefix) {
    std::lock_guard<std::mutex> lock(writer_);
    check_open();
    Route r = parse_prefix(prefix);
    fib_->remove(r.ip, r.depth);
}

std::vector<Route> Dataplane::routes() {
    std::lock_guard<std::mutex> lock(writer_);
    check_open();
    return fib_->list();
}

size_t Dataplane::route_count() {
    std::lock_guard<std::mutex> lock(writer_);
    check_open();
    return fib_->size();
}

std::optional<uint32_t> Dataplane::route_lookup(const std::string& address) {
    std::lock_guard<std::mutex> lock(writer_);
    check_open();
    in_addr a{};
    if (inet_pton(AF_INET, address.c_str(), &a) != 1)
        throw RouteError("'" + address + "' is not an IPv4 address");
    return fib_->lookup(ntohl(a.s_addr));
}

uint32_t Dataplane::tbl8_groups_in_use() {
    std::lock_guard<std::mutex> lock(writer_);
    check_open();
    return fib_->tbl8_groups_in_use();
}

// ---- next hops ----

void Dataplane::nexthop_set(uint32_t id, const std::string& port, const std::string& dst_mac,
                            const std::string& src_mac) {
    std::lock_guard<std::mutex> lock(writer_);
    check_open();
    size_t idx = port_index(port);
    NextHop hop{};
    hop.dst = parse_mac(dst_mac, "next hop " + std::to_string(id) + " dst MAC");
    hop.src = src_mac.empty() ? ports_[idx]->mac()
                              : parse_mac(src_mac, "next hop " + std::to_string(id) + " src MAC");
    hop.port_id = ports_[idx]->id();
    hop.port_index = uint16_t(idx);
    hops_->set(id, hop);
}

void Dataplane::nexthop_delete(uint32_t id) {
    std::lock_guard<std::mutex> lock(writer_);
    check_open();
    hops_->remove(id);
}

std::vector<NextHopInfo> Dataplane::nexthops() {
    std::lock_guard<std::mutex> lock(writer_);
    check_open();
    return hops_->list();
}

// ---- rules ----

void Dataplane::rule_add(const Rule& rule) {
    std::lock_guard<std::mutex> lock(writer_);
    check_open();
    if (rule.action != RuleAction::forward && rule.action != RuleAction::drop)
        throw RuleError("rule " + describe(rule.key) + ": action must be forward or drop");
    flows_->add(rule);
}

void Dataplane::rule_delete(const FlowKey& key) {
    std::lock_guard<std::mutex> lock(writer_);
    check_open();
    flows_->remove(key);
}

std::vector<Rule> Dataplane::rules() {
    std::lock_guard<std::mutex> lock(writer_);
    check_open();
    return flows_->list();
}

size_t Dataplane::rule_count() {
    std::lock_guard<std::mutex> lock(writer_);
    check_open();
    return flows_->size();
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
    // frame taken from the rings is transmitted or counted.
    std::lock_guard<std::mutex> lock(writer_);
    rcu_->synchronize();
    return true;
}

}  // namespace appliance
