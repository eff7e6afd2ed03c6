#include "vrf/vrfs.h"

#include "core/errors.h"

namespace appliance {

Vrfs::Vrfs(const std::vector<std::string>& names, const TableLimits& limits, NextHopTable& hops,
           Rcu& rcu) {
    if (names.size() + 1 > kMaxVrfs)
        throw RouteError("at most " + std::to_string(kMaxVrfs - 1) + " VRFs besides the default one");
    std::vector<std::string> all{kDefaultVrfName};
    for (const std::string& n : names) {
        if (n.empty()) throw RouteError("a VRF needs a name");
        for (const std::string& seen : all)
            if (seen == n)
                throw RouteError("VRF " + n + (n == kDefaultVrfName ? ": the global VRF's name"
                                                                    : ": defined twice"));
        all.push_back(n);
    }
    for (size_t i = 0; i < all.size(); ++i) {
        const TableMemory memory = i == kDefaultVrf ? TableMemory::hugepages : TableMemory::on_demand;
        vrfs_.push_back({all[i],
                         std::make_unique<Fib>(limits.max_routes, limits.tbl8_groups, memory, hops, rcu),
                         std::make_unique<Fib6>(limits.max_routes6, limits.tbl8_groups6, memory, hops,
                                                rcu)});
    }
}

uint16_t Vrfs::index(const std::string& name) const {
    if (name.empty()) return kDefaultVrf;
    std::string known;
    for (size_t i = 0; i < vrfs_.size(); ++i) {
        if (vrfs_[i].name == name) return uint16_t(i);
        known += (i ? ", " : "") + vrfs_[i].name;
    }
    throw RouteError("unknown VRF '" + name + "' (VRFs: " + known + ")");
}

}  // namespace appliance
