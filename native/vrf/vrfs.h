// VRFs: each has its own IPv4 and IPv6 route tables, and every L3 interface
// belongs to one; a packet is looked up in the table of the interface it came
// in on. VRF 0 is the global one ("default", as FRR names it): its tables live
// in hugepages, sized for a full Internet table. The others' live in memory
// backed on demand (fib/table_memory.h): a VRF costs what its routes touch,
// and spreading traffic over many costs memory, not a different lookup.
// A route leaks between VRFs by its next hop: next hops belong to an
// interface, whichever VRF that is in.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "fib/fib.h"
#include "fib/fib6.h"

namespace appliance {

constexpr uint16_t kDefaultVrf = 0;
inline const std::string kDefaultVrfName = "default";
constexpr size_t kMaxVrfs = 1024;  // each reserves ~230 MiB of address space, backed on use

struct TableLimits {
    uint32_t max_routes, tbl8_groups, max_routes6, tbl8_groups6;  // per VRF
};

class Vrfs {
public:
    // `names`: the VRFs besides the default one. RouteError for a name used
    // twice, "default", empty or too many.
    Vrfs(const std::vector<std::string>& names, const TableLimits& limits, NextHopTable& hops,
         Rcu& rcu);

    size_t size() const { return vrfs_.size(); }
    Fib& fib(uint16_t vrf) const { return *vrfs_[vrf].fib; }
    Fib6& fib6(uint16_t vrf) const { return *vrfs_[vrf].fib6; }
    const std::string& name(uint16_t vrf) const { return vrfs_[vrf].name; }
    // "" is the default VRF; RouteError naming the known ones otherwise.
    uint16_t index(const std::string& name) const;

private:
    struct Tables {
        std::string name;
        std::unique_ptr<Fib> fib;
        std::unique_ptr<Fib6> fib6;
    };
    std::vector<Tables> vrfs_;
};

}  // namespace appliance
