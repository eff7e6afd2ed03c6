// Binding of the next hop calls.
#include <pybind11/stl.h>

#include "core/bind.h"

namespace py = pybind11;

namespace appliance {

void bind_nexthops(py::module_&, DataplaneClass& dataplane) {
    dataplane
        .def("nexthop_set", [](Dataplane& d, uint32_t id, const std::string& port,
                               const std::string& dst_mac, const std::string& src_mac) {
            d.nexthops().set(id, port, dst_mac, src_mac);
        }, py::arg("id"), py::arg("port"), py::arg("dst_mac"), py::arg("src_mac") = "", Release())
        .def("nexthop_set_gateway", [](Dataplane& d, uint32_t id, const std::string& port,
                                       const std::string& gateway) {
            d.nexthops().set_gateway(id, port, gateway);
        }, py::arg("id"), py::arg("port"), py::arg("gateway"), Release())
        .def("nexthop_delete", [](Dataplane& d, uint32_t id) { d.nexthops().remove(id); },
             py::arg("id"), Release())
        .def("nexthops", [](Dataplane& d) {
            py::list out;
            for (const NextHopInfo& h : d.nexthops().list()) {
                py::dict e;
                e["id"] = h.id;
                e["port"] = d.port_name(h.port_index);
                auto gw = d.nexthops().gateway(h.id);
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
