// Each feature binds its own control calls onto appliance._native.Dataplane
// (and its own types) in its folder's bind.cpp; bindings.cpp calls them in
// order. Only bindings.cpp and the bind.cpp files include pybind11.
#pragma once

#include <pybind11/pybind11.h>

#include "core/dataplane.h"

namespace appliance {

using DataplaneClass = pybind11::class_<Dataplane>;
// Control calls that can take long release the GIL.
using Release = pybind11::call_guard<pybind11::gil_scoped_release>;

// A Dataplane method that makes one feature's control call:
// .def("route_add", call(&Controls::routes, &RouteControl::add), py::arg("prefix"), ...).
template <class Feature, class R, class... Args>
auto call(Feature Controls::*feature, R (Feature::*method)(Args...)) {
    return [feature, method](Dataplane& d, Args... args) -> R {
        return ((d.controls().*feature).*method)(args...);
    };
}

void bind_core(pybind11::module_& m, DataplaneClass& dataplane);  // EAL, specs, lifecycle, stats, I/O
void bind_fib(pybind11::module_& m, DataplaneClass& dataplane);   // routes
void bind_nexthops(pybind11::module_& m, DataplaneClass& dataplane);
void bind_rules(pybind11::module_& m, DataplaneClass& dataplane);
void bind_slowpath(pybind11::module_& m, DataplaneClass& dataplane);  // addresses, neighbours
void bind_kernel(pybind11::module_& m, DataplaneClass& dataplane);    // route sync
void bind_acl(pybind11::module_& m, DataplaneClass& dataplane);       // access control lists
void bind_iface(pybind11::module_& m, DataplaneClass& dataplane);     // interfaces, VLANs
void bind_ct(pybind11::module_& m, DataplaneClass& dataplane);        // connection tracking
void bind_nat(pybind11::module_& m, DataplaneClass& dataplane);       // NAT44
void bind_capture(pybind11::module_& m, DataplaneClass& dataplane);   // packet capture
void bind_trace(pybind11::module_& m, DataplaneClass& dataplane);     // per-packet trace
void bind_vrrp(pybind11::module_& m, DataplaneClass& dataplane);      // VRRP virtual routers

}  // namespace appliance
