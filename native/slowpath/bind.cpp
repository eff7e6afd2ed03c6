// Binding of the slow path's settings and calls: addresses, neighbours, counters.
#include <pybind11/stl.h>

#include "core/bind.h"
#include "core/drop_reasons.h"

namespace py = pybind11;

namespace appliance {

void bind_slowpath(py::module_& m, DataplaneClass& dataplane) {
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

    py::class_<RaSpec>(m, "RaSpec")
        .def(py::init<>())
        .def_readwrite("iface", &RaSpec::iface)
        .def_readwrite("min_interval_ms", &RaSpec::min_interval_ms)
        .def_readwrite("max_interval_ms", &RaSpec::max_interval_ms)
        .def_readwrite("lifetime_s", &RaSpec::lifetime_s)
        .def_readwrite("hop_limit", &RaSpec::hop_limit)
        .def_readwrite("managed", &RaSpec::managed)
        .def_readwrite("other", &RaSpec::other)
        .def_readwrite("on_link", &RaSpec::on_link)
        .def_readwrite("autonomous", &RaSpec::autonomous)
        .def_readwrite("valid_lifetime_s", &RaSpec::valid_lifetime_s)
        .def_readwrite("preferred_lifetime_s", &RaSpec::preferred_lifetime_s)
        .def_readwrite("advertise_mtu", &RaSpec::advertise_mtu)
        .def_readwrite("rdnss", &RaSpec::rdnss)
        .def_readwrite("rdnss_lifetime_s", &RaSpec::rdnss_lifetime_s);

    using S = SlowPathControl;
    dataplane
        .def("ra_set", call(&Controls::slowpath, &S::ra_set), py::arg("spec"), Release())
        .def("ra_clear", call(&Controls::slowpath, &S::ra_clear), py::arg("iface"), Release())
        .def("address_add", call(&Controls::slowpath, &S::address_add), py::arg("port"),
             py::arg("prefix"), Release())
        .def("address_delete", call(&Controls::slowpath, &S::address_delete), py::arg("port"),
             py::arg("prefix"), Release())
        .def("addresses", [](Dataplane& d) {
            py::list out;
            for (const AddressInfo& a : d.controls().slowpath.addresses()) {
                py::dict e;
                e["port"] = d.port_name(a.port_index);
                e["address"] = format_ip(a.ip) + "/" + std::to_string(a.depth);
                e["automatic"] = a.automatic;  // the EUI-64 link-local: not configured
                out.append(e);
            }
            return out;
        })
        .def("neighbor_add", call(&Controls::slowpath, &S::neighbor_add), py::arg("port"),
             py::arg("ip"), py::arg("mac"), Release())
        .def("neighbor_delete", call(&Controls::slowpath, &S::neighbor_delete), py::arg("port"),
             py::arg("ip"), Release())
        .def("neighbors", [](Dataplane& d) {
            py::list out;
            for (const NeighborInfo& n : d.controls().slowpath.neighbors()) {
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
        .def("slowpath_stats", [](Dataplane& d) {
            SlowPathStats s = d.controls().slowpath.stats();
            py::dict e, drops;
#define APPLIANCE_SLOW_DICT(name, help) e[#name] = s.name;
            APPLIANCE_SLOW_COUNTERS(APPLIANCE_SLOW_DICT)
#undef APPLIANCE_SLOW_DICT
            for (size_t i = 0; i < kDropReasonCount; ++i) drops[kDropReasonNames[i]] = s.drops[i];
            e["drops"] = drops;
            e["held"] = d.controls().slowpath.held_packets(false);
            e["held_generated"] = d.controls().slowpath.held_packets(true);  // not in rx: apart from "held"
            return e;
        });
}

}  // namespace appliance
