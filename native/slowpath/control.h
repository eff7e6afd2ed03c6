// The slow path's calls in the control API: the router's own addresses, its
// neighbour table, and what the slow path counts.
#pragma once

#include <string>
#include <vector>

#include "core/control.h"
#include "slowpath/slowpath.h"

namespace appliance {

class SlowPathControl {
public:
    SlowPathControl(const ControlContext& ctl, SlowPath& slow) : ctl_(ctl), slow_(slow) {}

    // "192.0.2.1/24" or "2001:db8::1/64" on a port: answered for (ARP or NDP,
    // ping), with its connected route.
    void address_add(const std::string& port, const std::string& prefix);
    void address_delete(const std::string& port, const std::string& prefix);
    std::vector<AddressInfo> addresses();
    // Static (permanent) neighbours; deleting a learned one flushes it.
    void neighbor_add(const std::string& port, const std::string& ip, const std::string& mac);
    void neighbor_delete(const std::string& port, const std::string& ip);
    std::vector<NeighborInfo> neighbors();
    // Router advertisements on an interface from now on (`spec.iface` names
    // it), or no more (a last one with router lifetime 0 says so).
    void ra_set(const RaSpec& spec);
    void ra_clear(const std::string& iface);
    SlowPathStats stats();
    // Packets waiting for a neighbour; `generated`: the slow path's own.
    unsigned held_packets(bool generated);

private:
    const ControlContext& ctl_;
    SlowPath& slow_;
};

}  // namespace appliance
