// The pybind11 module appliance._native: the only file that knows Python.
// Control calls that can take long release the GIL; C++ error classes map to
// Python classes of the same names here, in one place.
#include <arpa/inet.h>
#include <linux/rtnetlink.h>

#include <pybind11/pybind11.h>
#include <rte_cycles.h>
#include <pybind11/stl.h>

#include "core/dataplane.h"
#include "core/drop_reasons.h"
#include "core/eal.h"
#include "core/errors.h"
#include "fib/fib6.h"

namespace py = pybind11;
using namespace appliance;

namespace {

using Release = py::call_guard<py::gil_scoped_release>;

uint32_t parse_ipv4_be(const std::string& text, const char* what) {
    in_addr a{};
    if (inet_pton(AF_INET, text.c_str(), &a) != 1)
        throw RuleError(std::string(what) + " '" + text + "' is not an IPv4 address");
    return a.s_addr;
}

FlowKey make_key(unsigned proto, const std::string& src, unsigned sport, const std::string& dst,
                 unsigned dport) {
    if (proto > 255) throw RuleError("protocol " + std::to_string(proto) + " out of range 0..255");
    if (sport > 65535 || dport > 65535) throw RuleError("L4 ports must be 0..65535");
    return FlowKey{parse_ipv4_be(src, "source"), parse_ipv4_be(dst, "destination"),
                   htons(uint16_t(sport)), htons(uint16_t(dport)), uint8_t(proto), {0, 0, 0}};
}

// The IPv6 table alone, with next hops 0..n-1 set, for its tests and
// benchmarks: the data plane gets its own with IPv6 forwarding.
class Fib6Table {
public:
    Fib6Table(uint32_t max_routes, uint32_t groups, uint32_t nexthops)
        : rcu_(1), hops_(nexthops, rcu_), fib_(max_routes, groups, hops_, rcu_) {
        for (uint32_t id = 0; id < nexthops; ++id) hops_.set(id, NextHop{});
    }
    void add_bulk(const std::vector<std::pair<std::string, uint32_t>>& routes) {
        std::vector<Route6> rs;
        rs.reserve(routes.size());
        for (const auto& [prefix, nh] : routes) {
            Route6 r = parse_prefix6(prefix);
            r.nexthop = nh;
            rs.push_back(r);
        }
        fib_.add_bulk(rs);
    }
    void remove(const std::string& prefix) {
        const Route6 r = parse_prefix6(prefix);
        fib_.remove(r.ip, r.depth);
    }
    std::optional<uint32_t> lookup(const std::string& address) const {
        return fib_.lookup(parse_ipv6(address));
    }
    std::vector<std::pair<std::string, uint32_t>> routes() const {
        std::vector<std::pair<std::string, uint32_t>> out;
        for (const Route6& r : fib_.list()) out.emplace_back(format_prefix6(r.ip, r.depth), r.nexthop);
        return out;
    }
    uint32_t groups_in_use() const { return fib_.groups_in_use(); }

private:
    Rcu rcu_;
    NextHopTable hops_;
    Fib6 fib_;
};

bool is_v6(const std::string& src, const std::string& dst) {
    const bool s6 = src.find(':') != std::string::npos, d6 = dst.find(':') != std::string::npos;
    if (s6 != d6) throw RuleError("rule " + src + " -> " + dst + ": source and destination of different families");
    return s6;
}

FlowKey6 make_key6(unsigned proto, const std::string& src, unsigned sport, const std::string& dst,
                   unsigned dport) {
    if (proto > 255) throw RuleError("protocol " + std::to_string(proto) + " out of range 0..255");
    if (sport > 65535 || dport > 65535) throw RuleError("L4 ports must be 0..65535");
    FlowKey6 k{};
    if (inet_pton(AF_INET6, src.c_str(), k.src_ip) != 1)
        throw RuleError("source '" + src + "' is not an IPv6 address");
    if (inet_pton(AF_INET6, dst.c_str(), k.dst_ip) != 1)
        throw RuleError("destination '" + dst + "' is not an IPv6 address");
    k.src_port = htons(uint16_t(sport));
    k.dst_port = htons(uint16_t(dport));
    k.proto = uint8_t(proto);
    return k;
}

std::string ip6_text(const uint8_t* a) {
    char buf[INET6_ADDRSTRLEN];
    inet_ntop(AF_INET6, a, buf, sizeof buf);
    return buf;
}

template <class R>
py::dict rule_dict(const R& r, const std::string& src, const std::string& dst) {
    py::dict e;
    e["proto"] = r.key.proto;
    e["src"] = src;
    e["src_port"] = ntohs(r.key.src_port);
    e["dst"] = dst;
    e["dst_port"] = ntohs(r.key.dst_port);
    e["action"] = r.action == RuleAction::drop ? "drop" : "forward";
    e["nexthop"] = r.action == RuleAction::drop ? py::none() : py::cast(r.nexthop);
    return e;
}

const char* route_type_name(uint8_t type) {
    switch (type) {
    case RTN_BLACKHOLE: return "blackhole";
    case RTN_UNREACHABLE: return "unreachable";
    case RTN_PROHIBIT: return "prohibit";
    default: return "unicast";
    }
}

std::string ip_text(uint32_t be) {
    char buf[INET_ADDRSTRLEN];
    inet_ntop(AF_INET, &be, buf, sizeof buf);
    return buf;
}

py::dict stats_dict(const WorkerStats& s) {
    py::dict d, drops;
    for (size_t i = 0; i < kDropReasonCount; ++i) drops[kDropReasonNames[i]] = s.drops[i];
    d["rx_packets"] = s.rx_packets;
    d["tx_packets"] = s.tx_packets;
    d["drops"] = drops;
    d["busy_cycles"] = s.busy_cycles;
    d["busy_packets"] = s.busy_packets;
    d["loops"] = s.loops;
    d["punted"] = s.punted;
    d["slow_tx"] = s.slow_tx;
    d["slow_tx_full"] = s.slow_tx_full;
    py::dict stages;
    for (unsigned i = 0; i < kStageCount; ++i) stages[kStageNames[i]] = s.stage_cycles[i];
    d["stage_cycles"] = stages;
    return d;
}

}  // namespace

PYBIND11_MODULE(_native, m) {
    m.doc() = "DPDK data plane of the appliance (see appliance.dataplane for the Python API)";

    auto base = py::register_exception<ApplianceError>(m, "ApplianceError", PyExc_RuntimeError);
    py::register_exception<EalError>(m, "EalError", base);
    py::register_exception<PortError>(m, "PortError", base);
    py::register_exception<ResourceError>(m, "ResourceError", base);
    py::register_exception<RouteError>(m, "RouteError", base);
    py::register_exception<NextHopError>(m, "NextHopError", base);
    py::register_exception<RuleError>(m, "RuleError", base);
    py::register_exception<TableFullError>(m, "TableFullError", base);
    py::register_exception<StateError>(m, "StateError", base);
    py::register_exception<AddressError>(m, "AddressError", base);
    py::register_exception<NeighborError>(m, "NeighborError", base);

    m.def("eal_init", &eal_init, py::arg("args"), Release());
    m.def("eal_cleanup", &eal_cleanup, Release());
    m.def("eal_is_initialized", &eal_is_initialized);
    m.def("eal_args", &eal_args);
    m.def("eal_worker_lcores", &eal_worker_lcores);
    m.def("tsc_hz", [] { return rte_get_tsc_hz(); }, "TSC ticks per second (after eal_init)");
    m.def("drop_reasons", [] {
        std::vector<std::pair<std::string, std::string>> out;
        for (size_t i = 0; i < kDropReasonCount; ++i)
            out.emplace_back(kDropReasonNames[i], kDropReasonHelp[i]);
        return out;
    }, "(name, meaning) of every drop reason, in counter order");
    m.def("mbufs_needed", [](uint64_t descriptors, unsigned workers, unsigned ports) {
        return mbufs_needed({descriptors, workers, ports});
    }, py::arg("descriptors"), py::arg("workers"), py::arg("ports"));

    py::enum_<PortKind>(m, "PortKind")
        .value("pci", PortKind::pci)
        .value("vdev", PortKind::vdev)
        .value("ring", PortKind::ring);

    py::class_<PortSpec>(m, "PortSpec")
        .def(py::init<>())
        .def_readwrite("name", &PortSpec::name)
        .def_readwrite("kind", &PortSpec::kind)
        .def_readwrite("device", &PortSpec::device)
        .def_readwrite("rx_queues", &PortSpec::rx_queues)
        .def_readwrite("tx_queues", &PortSpec::tx_queues)
        .def_readwrite("rx_desc", &PortSpec::rx_desc)
        .def_readwrite("tx_desc", &PortSpec::tx_desc)
        .def_readwrite("mtu", &PortSpec::mtu)
        .def_readwrite("promiscuous", &PortSpec::promiscuous)
        .def_readwrite("kernel", &PortSpec::kernel)
        .def_readwrite("mac", &PortSpec::mac)
        .def_readwrite("rss", &PortSpec::rss);

    py::class_<SlowPathConfig>(m, "SlowPathConfig")
        .def(py::init<>())
        .def_readwrite("icmp_rate", &SlowPathConfig::icmp_rate)
        .def_readwrite("icmp_burst", &SlowPathConfig::icmp_burst)
        .def_readwrite("hold_packets", &SlowPathConfig::hold_packets)
        .def_readwrite("reachable_ms", &SlowPathConfig::reachable_ms)
        .def_readwrite("stale_ms", &SlowPathConfig::stale_ms)
        .def_readwrite("retrans_ms", &SlowPathConfig::retrans_ms)
        .def_readwrite("probes", &SlowPathConfig::probes)
        .def_readwrite("failed_ms", &SlowPathConfig::failed_ms)
        .def_readwrite("max_neighbors", &SlowPathConfig::max_neighbors);

    py::class_<RouteSyncSpec>(m, "RouteSyncSpec")
        .def(py::init<>())
        .def_readwrite("enabled", &RouteSyncSpec::enabled)
        .def_readwrite("table", &RouteSyncSpec::table)
        .def_readwrite("protocols", &RouteSyncSpec::protocols)
        .def_readwrite("receive_buffer", &RouteSyncSpec::receive_buffer);

    py::class_<DataplaneSpec>(m, "DataplaneSpec")
        .def(py::init<>())
        .def_readwrite("name", &DataplaneSpec::name)
        .def_readwrite("ports", &DataplaneSpec::ports)
        .def_readwrite("worker_lcores", &DataplaneSpec::worker_lcores)
        .def_readwrite("max_routes", &DataplaneSpec::max_routes)
        .def_readwrite("tbl8_groups", &DataplaneSpec::tbl8_groups)
        .def_readwrite("max_routes6", &DataplaneSpec::max_routes6)
        .def_readwrite("tbl8_groups6", &DataplaneSpec::tbl8_groups6)
        .def_readwrite("max_nexthops", &DataplaneSpec::max_nexthops)
        .def_readwrite("max_rules", &DataplaneSpec::max_rules)
        .def_readwrite("verify_checksum", &DataplaneSpec::verify_checksum)
        .def_readwrite("stage_clocks", &DataplaneSpec::stage_clocks)
        .def_readwrite("max_simd_bitwidth", &DataplaneSpec::max_simd_bitwidth)
        .def_readwrite("mbufs", &DataplaneSpec::mbufs)
        .def_readwrite("slow", &DataplaneSpec::slow)
        .def_readwrite("route_sync", &DataplaneSpec::route_sync);

    py::class_<Dataplane>(m, "Dataplane")
        .def(py::init<const DataplaneSpec&>(), py::arg("spec"), Release())
        .def("start", &Dataplane::start, Release())
        .def("stop", &Dataplane::stop, Release())
        .def("close", &Dataplane::close, Release())
        .def_property_readonly("running", &Dataplane::running)
        .def_property_readonly("closed", &Dataplane::closed)
        .def_property_readonly("avx512_input", &Dataplane::avx512_input)
        .def("route_add", &Dataplane::route_add, py::arg("prefix"), py::arg("nexthop"))
        .def("route_add_bulk", &Dataplane::route_add_bulk, py::arg("prefixes"),
             py::arg("nexthops"), Release())
        .def("route_delete", &Dataplane::route_delete, py::arg("prefix"))
        .def("kernel_route_delete", &Dataplane::kernel_route_delete, py::arg("prefix"))
        .def("routes", [](Dataplane& d) {
            std::vector<std::pair<std::string, uint32_t>> out;
            for (const Route& r : d.routes()) out.emplace_back(format_prefix(r.ip, r.depth), r.nexthop);
            for (const Route6& r : d.routes6())
                out.emplace_back(format_prefix6(r.ip, r.depth), r.nexthop);
            return out;
        })
        .def("route_count", &Dataplane::route_count)
        .def("route_lookup", &Dataplane::route_lookup, py::arg("address"))
        .def("tbl8_groups_in_use", &Dataplane::tbl8_groups_in_use)
        .def("tbl8_groups6_in_use", &Dataplane::tbl8_groups6_in_use)
        .def("nexthop_set", &Dataplane::nexthop_set, py::arg("id"), py::arg("port"),
             py::arg("dst_mac"), py::arg("src_mac") = "", Release())
        .def("nexthop_delete", &Dataplane::nexthop_delete, py::arg("id"), Release())
        .def("nexthops", [](Dataplane& d) {
            py::list out;
            for (const NextHopInfo& h : d.nexthops()) {
                py::dict e;
                e["id"] = h.id;
                e["port"] = d.port_name(h.port_index);
                auto gw = d.nexthop_gateway(h.id);
                const bool resolved = h.action == HopAction::forward;
                e["dst_mac"] = resolved ? py::cast(format_mac(h.dst)) : py::none();
                e["src_mac"] = format_mac(h.src);
                e["gateway"] = gw ? py::cast(*gw) : py::none();
                e["state"] = resolved ? "resolved"
                             : h.action == HopAction::unreachable ? "unreachable" : "resolving";
                e["users"] = h.routes;
                out.append(e);
            }
            return out;
        })
        .def("nexthop_set_gateway", &Dataplane::nexthop_set_gateway, py::arg("id"),
             py::arg("port"), py::arg("gateway"), Release())
        .def("address_add", &Dataplane::address_add, py::arg("port"), py::arg("prefix"), Release())
        .def("address_delete", &Dataplane::address_delete, py::arg("port"), py::arg("prefix"),
             Release())
        .def("addresses", [](Dataplane& d) {
            py::list out;
            for (const AddressInfo& a : d.addresses()) {
                py::dict e;
                e["port"] = d.port_name(a.port_index);
                e["address"] = format_ip(a.ip) + "/" + std::to_string(a.depth);
                e["automatic"] = a.automatic;  // the EUI-64 link-local: not configured
                out.append(e);
            }
            return out;
        })
        .def("neighbor_add", &Dataplane::neighbor_add, py::arg("port"), py::arg("ip"),
             py::arg("mac"), Release())
        .def("neighbor_delete", &Dataplane::neighbor_delete, py::arg("port"), py::arg("ip"),
             Release())
        .def("neighbors", [](Dataplane& d) {
            py::list out;
            for (const NeighborInfo& n : d.neighbors()) {
                py::dict e;
                e["port"] = d.port_name(n.port_index);
                e["ip"] = format_ip(n.ip);
                const bool known = n.state != NeighState::incomplete;
                e["mac"] = known ? py::cast(format_mac(n.mac)) : py::none();
                e["state"] = neigh_state_name(n.state);
                e["held"] = n.held;
                e["age_s"] = double(n.age_ms) / 1000.0;
                out.append(e);
            }
            return out;
        })
        .def("kernel_routes", [](Dataplane& d) {
            py::list out;
            for (const KernelRouteInfo& k : d.kernel_routes()) {
                py::dict e;
                e["prefix"] = format_ip(k.prefix) + "/" + std::to_string(k.depth);
                py::list paths;
                for (const RoutePath& p : k.paths) {
                    py::dict path;
                    path["port"] = d.port_name(p.port);
                    path["gateway"] = p.gateway ? py::cast(format_ip(*p.gateway)) : py::none();
                    paths.append(path);
                }
                // The first path's, as `ip route` shows one; none for a reject route.
                e["port"] = paths.empty() ? py::none() : py::object(paths[0]["port"]);
                e["gateway"] = paths.empty() ? py::none() : py::object(paths[0]["gateway"]);
                e["type"] = route_type_name(k.type);
                e["paths"] = paths;  // several: equal-cost, one per flow
                e["protocol"] = k.protocol;
                e["shadowed"] = k.shadowed;  // an operator's route on the same prefix wins
                out.append(e);
            }
            return out;
        })
        .def("route_sync_resync", &Dataplane::route_sync_resync)
        .def("route_sync_stats", [](Dataplane& d) {
            const RouteSyncStats s = d.route_sync_stats();
            py::dict e;
#define APPLIANCE_SYNC_DICT(name, help) e[#name] = s.name;
            APPLIANCE_SYNC_COUNTERS(APPLIANCE_SYNC_DICT)
#undef APPLIANCE_SYNC_DICT
            e["routes"] = s.routes;
            e["shadowed"] = s.shadowed;
            e["last_dump_s"] = s.last_dump_s;
            e["synced"] = d.route_sync_synced();
            const std::string error = d.route_sync_error();
            e["error"] = error.empty() ? py::none() : py::cast(error);
            return e;
        })
        .def("slowpath_stats", [](Dataplane& d) {
            SlowPathStats s = d.slowpath_stats();
            py::dict e, drops;
#define APPLIANCE_SLOW_DICT(name, help) e[#name] = s.name;
            APPLIANCE_SLOW_COUNTERS(APPLIANCE_SLOW_DICT)
#undef APPLIANCE_SLOW_DICT
            for (size_t i = 0; i < kDropReasonCount; ++i) drops[kDropReasonNames[i]] = s.drops[i];
            e["drops"] = drops;
            e["held"] = d.held_packets(false);
            e["held_generated"] = d.held_packets(true);  // not in rx: apart from "held"
            return e;
        })
        .def("rule_add", [](Dataplane& d, unsigned proto, const std::string& src, unsigned sport,
                            const std::string& dst, unsigned dport, const std::string& action,
                            uint32_t nexthop) {
            RuleAction a = action == "forward" ? RuleAction::forward
                         : action == "drop"    ? RuleAction::drop
                                               : throw RuleError("action '" + action + "' must be 'forward' or 'drop'");
            if (is_v6(src, dst)) return d.rule_add(Rule6{make_key6(proto, src, sport, dst, dport), a, nexthop});
            d.rule_add(Rule{make_key(proto, src, sport, dst, dport), a, nexthop});
        }, py::arg("proto"), py::arg("src"), py::arg("src_port"), py::arg("dst"),
           py::arg("dst_port"), py::arg("action"), py::arg("nexthop") = 0)
        .def("rule_delete", [](Dataplane& d, unsigned proto, const std::string& src, unsigned sport,
                               const std::string& dst, unsigned dport) {
            if (is_v6(src, dst)) return d.rule_delete(make_key6(proto, src, sport, dst, dport));
            d.rule_delete(make_key(proto, src, sport, dst, dport));
        }, py::arg("proto"), py::arg("src"), py::arg("src_port"), py::arg("dst"), py::arg("dst_port"))
        .def("rules", [](Dataplane& d) {
            py::list out;
            for (const Rule& r : d.rules())
                out.append(rule_dict(r, ip_text(r.key.src_ip), ip_text(r.key.dst_ip)));
            for (const Rule6& r : d.rules6())
                out.append(rule_dict(r, ip6_text(r.key.src_ip), ip6_text(r.key.dst_ip)));
            return out;
        })
        .def("rule_count", &Dataplane::rule_count)
        .def("worker_stats", [](Dataplane& d) {
            py::list out;
            for (const WorkerSnapshot& w : d.worker_stats()) {
                py::dict e = stats_dict(w.stats);
                e["lcore"] = w.lcore;
                e["rx_queues"] = w.rx_queues;
                out.append(e);
            }
            return out;
        })
        .def("port_states", [](Dataplane& d) {
            py::list out;
            for (const PortState& s : d.port_states()) {
                py::dict e;
                e["name"] = s.name;
                e["device"] = s.device;
                e["port_id"] = s.port_id;
                e["socket"] = s.socket;
                e["mac"] = s.mac;
                e["link_up"] = s.link_up;
                e["link_speed_mbps"] = s.link_speed_mbps;
                e["mtu"] = s.mtu;
                e["rx_queues"] = s.rx_queues;
                e["tx_queues"] = s.tx_queues;
                e["rss_hash_functions"] = s.rss_hash_functions;
                e["offloads"] = s.offloads;
                out.append(e);
            }
            return out;
        })
        .def("port_counters", &Dataplane::port_counters)
        .def("mempools", [](Dataplane& d) {
            py::list out;
            for (const MempoolSnapshot& p : d.mempools()) {
                py::dict e;
                e["name"] = p.name;
                e["socket"] = p.socket;
                e["size"] = p.size;
                e["in_use"] = p.in_use;
                out.append(e);
            }
            return out;
        })
        .def("inject", [](Dataplane& d, const std::string& port, const std::vector<py::bytes>& frames,
                          uint16_t queue) {
            std::vector<std::string> raw(frames.begin(), frames.end());
            py::gil_scoped_release release;
            return d.inject(port, raw, queue);
        }, py::arg("port"), py::arg("frames"), py::arg("queue") = 0)
        .def("drain", [](Dataplane& d, const std::string& port) {
            std::vector<std::string> raw;
            {
                py::gil_scoped_release release;
                raw = d.drain(port);
            }
            py::list out;
            for (const auto& f : raw) out.append(py::bytes(f));
            return out;
        }, py::arg("port"))
        .def("quiesce", &Dataplane::quiesce, py::arg("timeout") = 5.0, Release());

    py::class_<Fib6Table>(m, "_Fib6Table")
        .def(py::init<uint32_t, uint32_t, uint32_t>(), py::arg("max_routes"), py::arg("groups"),
             py::arg("nexthops"))
        .def("add_bulk", &Fib6Table::add_bulk, py::arg("routes"), Release())
        .def("remove", &Fib6Table::remove, py::arg("prefix"), Release())
        .def("lookup", &Fib6Table::lookup, py::arg("address"))
        .def("routes", &Fib6Table::routes)
        .def_property_readonly("groups_in_use", &Fib6Table::groups_in_use);
}
