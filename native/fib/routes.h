// The route calls of the control API, both families (the prefix text picks
// the table): user routes only; the slow path's own (addresses, neighbours,
// reserved ranges) and the kernel table's mirrored ones are refused here.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "core/control.h"
#include "core/ip_addr.h"
#include "fib/fib.h"
#include "fib/fib6.h"

namespace appliance {

class SlowPath;
class KernelRouteTable;

class RouteControl {
public:
    // `kernel`: the mirrored kernel table, nullptr without route sync.
    RouteControl(const ControlContext& ctl, Fib& fib, Fib6& fib6, SlowPath& slow,
                 KernelRouteTable* kernel)
        : ctl_(ctl), fib_(fib), fib6_(fib6), slow_(slow), kernel_(kernel) {}

    void add(const std::string& prefix, uint32_t nexthop);
    // All or nothing across both tables.
    void add_bulk(const std::vector<std::string>& prefixes, const std::vector<uint32_t>& nexthops);
    void remove(const std::string& prefix);
    // A route mirrored from the kernel table, by hand (until the kernel changes it again).
    void remove_kernel_route(const std::string& prefix);
    std::vector<Route> list4();
    std::vector<Route6> list6();
    size_t count();
    std::optional<uint32_t> lookup(const std::string& address);
    uint32_t tbl8_groups_in_use();
    uint32_t tbl8_groups6_in_use();

private:
    Route user_route(const std::string& prefix, uint32_t nexthop) const;
    Route6 user_route6(const std::string& prefix, uint32_t nexthop) const;
    void user_route_added(const IpAddr& prefix, uint8_t depth);
    void check_not_kernel_route(const IpAddr& prefix, uint8_t depth, const std::string& text) const;

    const ControlContext& ctl_;
    Fib& fib_;
    Fib6& fib6_;
    SlowPath& slow_;
    KernelRouteTable* kernel_;
};

}  // namespace appliance
