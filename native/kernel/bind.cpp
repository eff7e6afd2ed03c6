// Binding of route sync: its settings, the mirrored routes and its state.
#include <linux/rtnetlink.h>

#include <pybind11/stl.h>

#include "core/bind.h"

namespace py = pybind11;

namespace appliance {

namespace {

const char* route_type_name(uint8_t type) {
    switch (type) {
    case RTN_BLACKHOLE: return "blackhole";
    case RTN_UNREACHABLE: return "unreachable";
    case RTN_PROHIBIT: return "prohibit";
    default: return "unicast";
    }
}

}  // namespace

void bind_kernel(py::module_& m, DataplaneClass& dataplane) {
    py::class_<RouteSyncSpec>(m, "RouteSyncSpec")
        .def(py::init<>())
        .def_readwrite("enabled", &RouteSyncSpec::enabled)
        .def_readwrite("table", &RouteSyncSpec::table)
        .def_readwrite("protocols", &RouteSyncSpec::protocols)
        .def_readwrite("receive_buffer", &RouteSyncSpec::receive_buffer);

    dataplane
        .def("kernel_routes", [](Dataplane& d) {
            py::list out;
            for (const KernelRouteInfo& k : d.controls().kernel_routes.list()) {
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
                e["vrf"] = d.vrf_name(k.vrf);
                out.append(e);
            }
            return out;
        })
        .def("route_sync_resync", call(&Controls::kernel_routes, &KernelRouteControl::resync))
        .def("route_sync_stats", [](Dataplane& d) {
            const RouteSyncStats s = d.controls().kernel_routes.stats();
            py::dict e;
#define APPLIANCE_SYNC_DICT(name, help) e[#name] = s.name;
            APPLIANCE_SYNC_COUNTERS(APPLIANCE_SYNC_DICT)
#undef APPLIANCE_SYNC_DICT
            e["routes"] = s.routes;
            e["shadowed"] = s.shadowed;
            e["last_dump_s"] = s.last_dump_s;
            e["synced"] = d.controls().kernel_routes.synced();
            const std::string error = d.controls().kernel_routes.error();
            e["error"] = error.empty() ? py::none() : py::cast(error);
            return e;
        });
}

}  // namespace appliance
