// Route sync in the control API: the routes mirrored from the kernel tables
// (one per VRF with kernel interfaces) and how the sync goes. Without route
// sync: nothing mirrored, no error.
#pragma once

#include <string>
#include <vector>

#include "core/control.h"
#include "kernel/kernel_routes.h"
#include "kernel/route_sync.h"

namespace appliance {

class KernelRouteControl {
public:
    // `tables`: per VRF (nullptr: not mirrored); `syncs`: empty when route sync is off.
    KernelRouteControl(const ControlContext& ctl, std::vector<KernelRouteTable*> tables,
                       std::vector<RouteSync*> syncs)
        : ctl_(ctl), tables_(std::move(tables)), syncs_(std::move(syncs)) {}

    std::vector<KernelRouteInfo> list();  // every VRF's
    RouteSyncStats stats();               // summed over the VRFs
    // The sync threads' own state: read without the writer lock.
    std::string error() const;  // the first one's error, if any
    bool synced() const;        // every table dumped once
    void resync();  // a full dump of the kernel tables now, as after an overrun

private:
    bool on() const { return !syncs_.empty() && !ctl_.closed(); }

    const ControlContext& ctl_;
    std::vector<KernelRouteTable*> tables_;
    std::vector<RouteSync*> syncs_;
};

}  // namespace appliance
