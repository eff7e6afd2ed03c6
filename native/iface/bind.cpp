// Binding of L3 interfaces: the VLAN sub-interface spec and the interface list.
#include <pybind11/stl.h>

#include "core/bind.h"

namespace py = pybind11;

namespace appliance {

void bind_iface(py::module_& m, DataplaneClass& dataplane) {
    py::class_<VlanSpec>(m, "VlanSpec")
        .def(py::init<>())
        .def_readwrite("port", &VlanSpec::port)
        .def_readwrite("vlan", &VlanSpec::vlan)
        .def_readwrite("mtu", &VlanSpec::mtu)
        .def_readwrite("kernel", &VlanSpec::kernel)
        .def_readwrite("vrf", &VlanSpec::vrf);

    dataplane.def("interfaces", [](Dataplane& d) {
        py::list out;
        for (const IfaceSnapshot& s : d.interfaces()) {
            py::dict e;
            e["name"] = s.iface.name;
            e["port"] = d.port_name(s.iface.port);
            e["vlan"] = s.iface.vlan;
            e["mtu"] = s.iface.mtu;
            e["kernel"] = s.iface.kernel.empty() ? py::object(py::none()) : py::str(s.iface.kernel);
            e["vrf"] = s.iface.vrf.empty() ? kDefaultVrfName : s.iface.vrf;
            e["rx_packets"] = s.counters.rx_packets;
            e["rx_bytes"] = s.counters.rx_bytes;
            e["tx_packets"] = s.counters.tx_packets;
            e["tx_bytes"] = s.counters.tx_bytes;
            out.append(e);
        }
        return out;
    });
}

}  // namespace appliance
