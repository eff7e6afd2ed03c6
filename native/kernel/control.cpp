#include "kernel/control.h"

#include "core/errors.h"

namespace appliance {

std::vector<KernelRouteInfo> KernelRouteControl::list() {
    const auto lock = ctl_.lock();
    std::vector<KernelRouteInfo> out;
    for (KernelRouteTable* t : tables_)
        if (t) {
            std::vector<KernelRouteInfo> some = t->list();
            out.insert(out.end(), some.begin(), some.end());
        }
    return out;
}

RouteSyncStats KernelRouteControl::stats() {
    const auto lock = ctl_.lock();
    RouteSyncStats s{};
    for (KernelRouteTable* t : tables_) {
        if (!t) continue;
        const RouteSyncStats& one = t->stats();
#define APPLIANCE_SYNC_SUM(name, help) s.name += one.name;
        APPLIANCE_SYNC_COUNTERS(APPLIANCE_SYNC_SUM)
#undef APPLIANCE_SYNC_SUM
        s.last_dump_s = std::max(s.last_dump_s, one.last_dump_s);
        for (const KernelRouteInfo& k : t->list()) {
            s.routes++;
            s.shadowed += k.shadowed;
        }
    }
    return s;
}

std::string KernelRouteControl::error() const {
    if (!on()) return {};
    for (RouteSync* sync : syncs_) {
        std::string e = sync->last_error();
        if (!e.empty()) return e;
    }
    return {};
}

bool KernelRouteControl::synced() const {
    if (!on()) return false;
    for (RouteSync* sync : syncs_)
        if (!sync->synced()) return false;
    return true;
}

void KernelRouteControl::resync() {
    if (!on()) throw StateError("route sync is off");
    for (RouteSync* sync : syncs_) sync->request_resync();
}

}  // namespace appliance
