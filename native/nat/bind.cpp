// Binding of NAT44: its rules (set whole), port use and counters.
#include <arpa/inet.h>

#include <pybind11/stl.h>

#include "core/bind.h"

namespace py = pybind11;

namespace appliance {

void bind_nat(py::module_& m, DataplaneClass& dataplane) {
    py::class_<NatIfaceSpec>(m, "NatIfaceSpec")
        .def(py::init<>())
        .def_readwrite("source", &NatIfaceSpec::source)
        .def_readwrite("addresses", &NatIfaceSpec::addresses)
        .def_readwrite("port_lo", &NatIfaceSpec::port_lo)
        .def_readwrite("port_hi", &NatIfaceSpec::port_hi);
    py::class_<NatForwardSpec>(m, "NatForwardSpec")
        .def(py::init<>())
        .def_readwrite("iface", &NatForwardSpec::iface)
        .def_readwrite("proto", &NatForwardSpec::proto)
        .def_readwrite("public_addr", &NatForwardSpec::public_addr)
        .def_readwrite("public_port", &NatForwardSpec::public_port)
        .def_readwrite("to_addr", &NatForwardSpec::to_addr)
        .def_readwrite("to_port", &NatForwardSpec::to_port);

    dataplane
        .def("nat_set", call(&Controls::nat, &NatControl::set), py::arg("interfaces"), py::arg("forwards"),
             Release())
        .def("nat_stats", [](Dataplane& d) {
            NatStats s;
            std::vector<NatPortUse> use;
            {
                py::gil_scoped_release unlocked;
                s = d.controls().nat.stats();
                use = d.controls().nat.port_use();
            }
            py::list ports;
            for (const NatPortUse& u : use) {
                char text[INET_ADDRSTRLEN];
                inet_ntop(AF_INET, &u.addr, text, sizeof text);
                py::dict e;
                e["address"] = std::string(text);
                e["tcp"] = u.tcp;
                e["udp"] = u.udp;
                e["icmp"] = u.icmp;
                ports.append(e);
            }
            py::dict out;
            out["mappings"] = s.mappings;
            out["port_failures"] = s.port_failures;
            out["ports"] = ports;  // per public address: ports in use by protocol
            return out;
        });
}

}  // namespace appliance
