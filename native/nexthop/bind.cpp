// Binding of the next hop calls.
#include <pybind11/stl.h>

#include "core/bind.h"

namespace py = pybind11;

namespace appliance {

void bind_nexthops(py::module_&, DataplaneClass& dataplane) {
    using N = NextHopControl;
    dataplane
        .def("nexthop_set", call(&Controls::nexthops, &N::set), py::arg("id"), py::arg("port"),
             py::arg("dst_mac"), py::arg("src_mac") = "", Release())
        .def("nexthop_set_gateway", call(&Controls::nexthops, &N::set_gateway), py::arg("id"),
             py::arg("port"), py::arg("gateway"), Release())
        .def("nexthop_delete", call(&Controls::nexthops, &N::remove), py::arg("id"), Release())
        .def("nexthops", [](Dataplane& d) {
            py::list out;
            for (const NextHopInfo& h : d.controls().nexthops.list()) {
                py::dict e;
                e["id"] = h.id;
                e["port"] = d.port_name(h.iface);
                auto gw = d.controls().nexthops.gateway(h.id);
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
        });
}

}  // namespace appliance
