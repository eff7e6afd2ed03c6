// VRRP's calls in the control API: virtual routers set and cleared by
// interface name, their state and counters, and the transitions for the log.
#pragma once

#include <string>
#include <vector>

#include "core/control.h"
#include "slowpath/slowpath.h"

namespace appliance {

class VrrpControl {
public:
    VrrpControl(const ControlContext& ctl, SlowPath& slow) : ctl_(ctl), slow_(slow) {}

    void set(const VrrpSpec& spec);  // new, or changed in place (`spec.iface` names it)
    void clear(const std::string& iface, uint8_t vrid, bool v6);
    std::vector<VrrpInfo> list();
    std::vector<VrrpEvent> events(uint64_t after_seq);

private:
    const ControlContext& ctl_;
    SlowPath& slow_;
};

}  // namespace appliance
