// The next hop calls of the control API: a static MAC, or a gateway whose
// MAC the slow path resolves (ARP or NDP) and keeps fresh.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "core/control.h"
#include "nexthop/nexthop.h"

namespace appliance {

class SlowPath;

class NextHopControl {
public:
    NextHopControl(const ControlContext& ctl, NextHopTable& hops, SlowPath& slow)
        : ctl_(ctl), hops_(hops), slow_(slow) {}

    // An empty src MAC means the output port's own address.
    void set(uint32_t id, const std::string& port, const std::string& dst_mac,
             const std::string& src_mac);
    void set_gateway(uint32_t id, const std::string& port, const std::string& gateway);
    std::optional<std::string> gateway(uint32_t id);
    void remove(uint32_t id);
    std::vector<NextHopInfo> list();

private:
    const ControlContext& ctl_;
    NextHopTable& hops_;
    SlowPath& slow_;
};

}  // namespace appliance
