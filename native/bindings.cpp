// The pybind11 module appliance._native: the error classes, mapped here in
// one place, then each feature's binding (its folder's bind.cpp). A new
// feature adds its bind_* call here and nothing else.
#include <pybind11/pybind11.h>

#include "core/bind.h"
#include "core/errors.h"

namespace py = pybind11;
using namespace appliance;

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
    py::register_exception<AclError>(m, "AclError", base);
    py::register_exception<CaptureError>(m, "CaptureError", base);

    DataplaneClass dataplane(m, "Dataplane");
    bind_iface(m, dataplane);  // before core: the spec holds its VlanSpecs
    bind_ct(m, dataplane);     // before core: the spec holds a CtSpec
    bind_core(m, dataplane);
    bind_fib(m, dataplane);
    bind_nexthops(m, dataplane);
    bind_rules(m, dataplane);
    bind_slowpath(m, dataplane);
    bind_kernel(m, dataplane);
    bind_acl(m, dataplane);
    bind_nat(m, dataplane);
    bind_capture(m, dataplane);
    bind_trace(m, dataplane);
    bind_vrrp(m, dataplane);
}
