// The route calls of the control API, both families (the prefix text picks
// the table) in every VRF (by name, "" the default one): user routes only;
// the slow path's own (addresses, neighbours, reserved ranges) and the kernel
// table's mirrored ones (default VRF) are refused here.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "core/control.h"
#include "core/ip_addr.h"
#include "fib/fib.h"
#include "fib/fib6.h"
#include "vrf/vrfs.h"

namespace appliance {

class SlowPath;
class KernelRouteTable;

class RouteControl {
public:
    // `kernel`: per VRF, its mirrored kernel table (nullptr: none, as without route sync).
    RouteControl(const ControlContext& ctl, const Vrfs& vrfs, SlowPath& slow,
                 std::vector<KernelRouteTable*> kernel)
        : ctl_(ctl), vrfs_(vrfs), slow_(slow), kernel_(std::move(kernel)) {}

    void add(const std::string& prefix, uint32_t nexthop, const std::string& vrf);
    // All or nothing across every table. `vrfs`: each route's, or empty: all the default one.
    void add_bulk(const std::vector<std::string>& prefixes, const std::vector<uint32_t>& nexthops,
                  const std::vector<std::string>& vrfs);
    void remove(const std::string& prefix, const std::string& vrf);
    // A route mirrored from a kernel table, by hand (until the kernel changes it again).
    void remove_kernel_route(const std::string& prefix, const std::string& vrf);
    std::vector<Route> list4(const std::string& vrf);
    std::vector<Route6> list6(const std::string& vrf);
    std::vector<std::string> vrf_names() const;
    size_t count();  // every VRF's
    std::optional<uint32_t> lookup(const std::string& address, const std::string& vrf);
    // The route a lookup of `address` meets: (prefix, next hop); none: no route.
    std::optional<std::pair<std::string, uint32_t>> match(const std::string& address, const std::string& vrf);
    uint32_t tbl8_groups_in_use();   // the default VRF's
    uint32_t tbl8_groups6_in_use();

private:
    uint16_t vrf_index(const std::string& vrf) const;
    Route user_route(uint16_t vrf, const std::string& prefix, uint32_t nexthop) const;
    Route6 user_route6(uint16_t vrf, const std::string& prefix, uint32_t nexthop) const;
    void user_route_added(uint16_t vrf, const IpAddr& prefix, uint8_t depth);
    void check_not_kernel_route(uint16_t vrf, const IpAddr& prefix, uint8_t depth,
                                const std::string& text) const;

    const ControlContext& ctl_;
    const Vrfs& vrfs_;
    SlowPath& slow_;
    std::vector<KernelRouteTable*> kernel_;
    KernelRouteTable* kernel_of(uint16_t vrf) const { return vrf < kernel_.size() ? kernel_[vrf] : nullptr; }
};

}  // namespace appliance
