// Binding of VRRP: the virtual router spec, set/clear, the list and the events.
#include <pybind11/stl.h>

#include "core/bind.h"
#include "vrrp/vrrp_packet.h"

namespace py = pybind11;

namespace appliance {

namespace {

py::dict spec_dict(const VrrpSpec& s) {
    py::dict e;
    e["priority"] = s.priority;
    e["interval_ms"] = unsigned(s.interval_cs) * 10;
    e["preempt"] = s.preempt;
    e["preempt_delay_ms"] = s.preempt_delay_ms;
    e["accept"] = s.accept;
    e["addresses"] = s.addresses;
    py::list track;
    for (const VrrpTrack& t : s.track) track.append(py::dict(py::arg("interface") = t.iface, py::arg("decrement") = t.decrement));
    e["track"] = track;
    return e;
}

}  // namespace

void bind_vrrp(py::module_& m, DataplaneClass& dataplane) {
    py::class_<VrrpTrack>(m, "VrrpTrack")
        .def(py::init<>())
        .def_readwrite("iface", &VrrpTrack::iface)
        .def_readwrite("decrement", &VrrpTrack::decrement);
    py::class_<VrrpSpec>(m, "VrrpSpec")
        .def(py::init<>())
        .def_readwrite("iface", &VrrpSpec::iface)
        .def_readwrite("vrid", &VrrpSpec::vrid)
        .def_readwrite("priority", &VrrpSpec::priority)
        .def_readwrite("interval_cs", &VrrpSpec::interval_cs)
        .def_readwrite("preempt", &VrrpSpec::preempt)
        .def_readwrite("preempt_delay_ms", &VrrpSpec::preempt_delay_ms)
        .def_readwrite("accept", &VrrpSpec::accept)
        .def_readwrite("addresses", &VrrpSpec::addresses)
        .def_readwrite("track", &VrrpSpec::track);

    dataplane
        .def("vrrp_set", call(&Controls::vrrp, &VrrpControl::set), py::arg("spec"), Release())
        .def("vrrp_clear", call(&Controls::vrrp, &VrrpControl::clear), py::arg("iface"),
             py::arg("vrid"), py::arg("v6"), Release())
        .def("vrrp_list", [](Dataplane& d) {
            py::list out;
            for (const VrrpInfo& i : d.controls().vrrp.list()) {
                py::dict e = spec_dict(i.spec);
                e["interface"] = d.port_name(i.iface);
                e["vrid"] = i.vrid;
                e["family"] = i.v6 ? "ipv6" : "ipv4";
                e["state"] = vrrp_state_name(i.state);
                e["reason"] = vrrp_reason_name(i.reason);
                e["configured_priority"] = i.spec.priority;
                e["priority"] = i.priority;  // less what tracked interfaces take
                e["master"] = i.master.empty() ? py::object(py::none()) : py::str(i.master);
                e["master_priority"] = i.master.empty() ? py::object(py::none()) : py::int_(i.master_priority);
                e["master_interval_ms"] = unsigned(i.master_interval_cs) * 10;
                e["virtual_mac"] = format_mac(vrrp_mac(i.vrid, i.v6));
                e["since_s"] = double(i.since_ms) / 1000.0;
                e["transitions"] = i.transitions;
                e["became_master"] = i.became_master;
                e["adverts_out"] = i.adverts_out;
                e["adverts_in"] = i.adverts_in;
                e["priority_zero_out"] = i.zero_out;
                e["priority_zero_in"] = i.zero_in;
                out.append(e);
            }
            return out;
        })
        .def("vrrp_events", [](Dataplane& d, uint64_t after) {
            py::list out;
            for (const VrrpEvent& e : d.controls().vrrp.events(after)) {
                py::dict x;
                x["seq"] = e.seq;
                x["time"] = double(e.unix_ms) / 1000.0;
                x["interface"] = d.port_name(e.iface);
                x["vrid"] = e.vrid;
                x["family"] = e.v6 ? "ipv6" : "ipv4";
                x["from"] = vrrp_state_name(e.from);
                x["to"] = vrrp_state_name(e.to);
                x["reason"] = vrrp_reason_name(e.reason);
                x["priority"] = e.priority;
                out.append(x);
            }
            return out;
        }, py::arg("after") = 0);
}

}  // namespace appliance
