#include "core/control.h"

#include "core/errors.h"

namespace appliance {

std::unique_lock<std::mutex> ControlContext::lock() const {
    std::unique_lock<std::mutex> held(writer_);
    if (closed_) throw StateError("dataplane '" + name_ + "' is closed");
    return held;
}

uint16_t ControlContext::port_index(const std::string& name) const {
    for (size_t i = 0; i < ports_.size(); ++i)
        if (ports_[i] == name) return uint16_t(i);
    std::string known;
    for (const auto& p : ports_) known += (known.empty() ? "" : ", ") + p;
    throw PortError("unknown port '" + name + "' (ports: " + known + ")");
}

void ControlContext::check_user_hop(uint32_t id) const {
    if (id >= max_nexthops)
        throw NextHopError("next hop " + std::to_string(id) + " out of range 0.." +
                           std::to_string(max_nexthops - 1));
}

}  // namespace appliance
