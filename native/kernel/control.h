// Route sync in the control API: the routes mirrored from the kernel table
// and how the sync goes. Without route sync: nothing mirrored, no error.
#pragma once

#include <string>
#include <vector>

#include "core/control.h"
#include "kernel/kernel_routes.h"
#include "kernel/route_sync.h"

namespace appliance {

class KernelRouteControl {
public:
    // `table` and `sync`: nullptr when route sync is off.
    KernelRouteControl(const ControlContext& ctl, KernelRouteTable* table, RouteSync* sync)
        : ctl_(ctl), table_(table), sync_(sync) {}

    std::vector<KernelRouteInfo> list();
    RouteSyncStats stats();
    // The sync thread's own state: read without the writer lock.
    std::string error() const { return on() ? sync_->last_error() : std::string(); }
    bool synced() const { return on() && sync_->synced(); }
    void resync();  // a full dump of the kernel table now, as after an overrun

private:
    bool on() const { return sync_ != nullptr && !ctl_.closed(); }

    const ControlContext& ctl_;
    KernelRouteTable* table_;
    RouteSync* sync_;
};

}  // namespace appliance
