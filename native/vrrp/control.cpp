#include "vrrp/control.h"

namespace appliance {

void VrrpControl::set(const VrrpSpec& spec) {
    const auto lock = ctl_.lock();
    slow_.vrrp_set(ctl_.port_index(spec.iface), spec,
                   [this](const std::string& name) { return ctl_.port_index(name); });
}

void VrrpControl::clear(const std::string& iface, uint8_t vrid, bool v6) {
    const auto lock = ctl_.lock();
    slow_.vrrp_clear(ctl_.port_index(iface), vrid, v6);
}

std::vector<VrrpInfo> VrrpControl::list() {
    const auto lock = ctl_.lock();
    return slow_.vrrp_list();
}

std::vector<VrrpEvent> VrrpControl::events(uint64_t after_seq) {
    const auto lock = ctl_.lock();
    return slow_.vrrp_events(after_seq);
}

}  // namespace appliance
