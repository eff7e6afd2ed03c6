// Binding of what is common: the EAL, the specs, the data plane's lifecycle,
// its counters, ports and pools, and ring-port I/O for tests.
#include <pybind11/stl.h>
#include <rte_cycles.h>

#include "core/bind.h"
#include "core/drop_reasons.h"
#include "core/eal.h"

namespace py = pybind11;

namespace appliance {

namespace {

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
    d["ct_created"] = s.ct_created;
    d["slow_tx"] = s.slow_tx;
    d["slow_tx_full"] = s.slow_tx_full;
    py::dict stages;
    for (unsigned i = 0; i < kStageCount; ++i) stages[kStageNames[i]] = s.stage_cycles[i];
    d["stage_cycles"] = stages;
    return d;
}

}  // namespace

void bind_core(py::module_& m, DataplaneClass& dataplane) {
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
        .def_readwrite("rss", &PortSpec::rss)
        .def_readwrite("vrf", &PortSpec::vrf);

    py::class_<DataplaneSpec>(m, "DataplaneSpec")
        .def(py::init<>())
        .def_readwrite("name", &DataplaneSpec::name)
        .def_readwrite("ports", &DataplaneSpec::ports)
        .def_readwrite("vlans", &DataplaneSpec::vlans)               // iface/bind.cpp
        .def_readwrite("vrfs", &DataplaneSpec::vrfs)
        .def_readwrite("worker_lcores", &DataplaneSpec::worker_lcores)
        .def_readwrite("max_routes", &DataplaneSpec::max_routes)
        .def_readwrite("tbl8_groups", &DataplaneSpec::tbl8_groups)
        .def_readwrite("max_routes6", &DataplaneSpec::max_routes6)
        .def_readwrite("tbl8_groups6", &DataplaneSpec::tbl8_groups6)
        .def_readwrite("max_nexthops", &DataplaneSpec::max_nexthops)
        .def_readwrite("max_rules", &DataplaneSpec::max_rules)
        .def_readwrite("max_acl_entries", &DataplaneSpec::max_acl_entries)
        .def_readwrite("acl_max_bytes", &DataplaneSpec::acl_max_bytes)
        .def_readwrite("verify_checksum", &DataplaneSpec::verify_checksum)
        .def_readwrite("stage_clocks", &DataplaneSpec::stage_clocks)
        .def_readwrite("max_simd_bitwidth", &DataplaneSpec::max_simd_bitwidth)
        .def_readwrite("mbufs", &DataplaneSpec::mbufs)
        .def_readwrite("slow", &DataplaneSpec::slow)                 // slowpath/bind.cpp
        .def_readwrite("ra", &DataplaneSpec::ra)                     // slowpath/bind.cpp
        .def_readwrite("route_sync", &DataplaneSpec::route_sync)     // kernel/bind.cpp
        .def_readwrite("conntrack", &DataplaneSpec::conntrack);      // ct/bind.cpp

    dataplane
        .def(py::init<const DataplaneSpec&>(), py::arg("spec"), Release())
        .def("start", &Dataplane::start, Release())
        .def("stop", &Dataplane::stop, Release())
        .def("close", &Dataplane::close, Release())
        .def_property_readonly("running", &Dataplane::running)
        .def_property_readonly("closed", &Dataplane::closed)
        .def_property_readonly("avx512_input", &Dataplane::avx512_input)
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
}

}  // namespace appliance
