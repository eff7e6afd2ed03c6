// Binding of the route calls, and of the IPv6 table alone (for its tests).
#include <pybind11/stl.h>

#include "core/bind.h"

namespace py = pybind11;

namespace appliance {

namespace {

// The IPv6 table alone, with next hops 0..n-1 set, for its tests and
// benchmarks: the data plane gets its own with IPv6 forwarding.
class Fib6Table {
public:
    // `on_demand`: a VRF's table (fib/table_memory.h), else the global one's.
    Fib6Table(uint32_t max_routes, uint32_t groups, uint32_t nexthops, bool on_demand)
        : rcu_(1),
          hops_(nexthops, rcu_),
          fib_(max_routes, groups, on_demand ? TableMemory::on_demand : TableMemory::hugepages,
               hops_, rcu_) {
        for (uint32_t id = 0; id < nexthops; ++id) hops_.set(id, NextHop{});
    }
    void add_bulk(const std::vector<std::pair<std::string, uint32_t>>& routes) {
        std::vector<Route6> rs;
        rs.reserve(routes.size());
        for (const auto& [prefix, nh] : routes) {
            Route6 r = parse_prefix6(prefix);
            r.nexthop = nh;
            rs.push_back(r);
        }
        fib_.add_bulk(rs);
    }
    void remove(const std::string& prefix) {
        const Route6 r = parse_prefix6(prefix);
        fib_.remove(r.ip, r.depth);
    }
    std::optional<uint32_t> lookup(const std::string& address) const {
        return fib_.lookup(parse_ipv6(address));
    }
    std::vector<std::pair<std::string, uint32_t>> routes() const {
        std::vector<std::pair<std::string, uint32_t>> out;
        for (const Route6& r : fib_.list()) out.emplace_back(format_prefix6(r.ip, r.depth), r.nexthop);
        return out;
    }
    uint32_t groups_in_use() const { return fib_.groups_in_use(); }

private:
    Rcu rcu_;
    NextHopTable hops_;
    Fib6 fib_;
};

}  // namespace

void bind_fib(py::module_& m, DataplaneClass& dataplane) {
    using R = RouteControl;
    dataplane
        .def("route_add", call(&Controls::routes, &R::add), py::arg("prefix"), py::arg("nexthop"),
             py::arg("vrf") = "")
        .def("route_add_bulk", call(&Controls::routes, &R::add_bulk), py::arg("prefixes"),
             py::arg("nexthops"), py::arg("vrfs") = std::vector<std::string>{}, Release())
        .def("route_delete", call(&Controls::routes, &R::remove), py::arg("prefix"),
             py::arg("vrf") = "")
        .def("kernel_route_delete", call(&Controls::routes, &R::remove_kernel_route),
             py::arg("prefix"), py::arg("vrf") = "")
        .def("routes", [](Dataplane& d, const std::string& vrf) {
            std::vector<std::pair<std::string, uint32_t>> out;
            for (const Route& r : d.controls().routes.list4(vrf))
                out.emplace_back(format_prefix(r.ip, r.depth), r.nexthop);
            for (const Route6& r : d.controls().routes.list6(vrf))
                out.emplace_back(format_prefix6(r.ip, r.depth), r.nexthop);
            return out;
        }, py::arg("vrf") = "")
        .def("vrfs", [](Dataplane& d) { return d.controls().routes.vrf_names(); })
        .def("route_count", call(&Controls::routes, &R::count))
        .def("route_match", call(&Controls::routes, &R::match), py::arg("address"), py::arg("vrf") = "")
        .def("route_lookup", call(&Controls::routes, &R::lookup), py::arg("address"),
             py::arg("vrf") = "")
        .def("tbl8_groups_in_use", call(&Controls::routes, &R::tbl8_groups_in_use))
        .def("tbl8_groups6_in_use", call(&Controls::routes, &R::tbl8_groups6_in_use));

    py::class_<Fib6Table>(m, "_Fib6Table")
        .def(py::init<uint32_t, uint32_t, uint32_t, bool>(), py::arg("max_routes"), py::arg("groups"),
             py::arg("nexthops"), py::arg("on_demand") = false)
        .def("add_bulk", &Fib6Table::add_bulk, py::arg("routes"), Release())
        .def("remove", &Fib6Table::remove, py::arg("prefix"), Release())
        .def("lookup", &Fib6Table::lookup, py::arg("address"))
        .def("routes", &Fib6Table::routes)
        .def_property_readonly("groups_in_use", &Fib6Table::groups_in_use);
}

}  // namespace appliance
