#include "kernel/control.h"

#include "core/errors.h"

namespace appliance {

std::vector<KernelRouteInfo> KernelRouteControl::list() {
    const auto lock = ctl_.lock();
    return table_ ? table_->list() : std::vector<KernelRouteInfo>{};
}

RouteSyncStats KernelRouteControl::stats() {
    const auto lock = ctl_.lock();
    if (!table_) return {};
    RouteSyncStats s = table_->stats();
    s.routes = 0;
    s.shadowed = 0;
    for (const KernelRouteInfo& k : table_->list()) {
        s.routes++;
        s.shadowed += k.shadowed;
    }
    return s;
}

void KernelRouteControl::resync() {
    if (!on()) throw StateError("route sync is off");
    sync_->request_resync();
}

}  // namespace appliance
