#include "ct/control.h"

#include "core/errors.h"

namespace appliance {

CtTable& CtControl::table() const {
    if (table_ == nullptr)
        throw StateError("connection tracking is off: the config has no conntrack section");
    return *table_;
}

void CtControl::set_stateful(const std::string& iface, bool on) {
    const auto lock = ctl_.lock();
    const size_t index = ctl_.port_index(iface);
    if (on || table_ != nullptr) table().set_stateful(uint16_t(index), on);
}

std::vector<std::string> CtControl::stateful() {
    const auto lock = ctl_.lock();
    std::vector<std::string> out;
    if (table_ == nullptr) return out;
    for (size_t i = 0; i < ctl_.port_count(); ++i)
        if (table_->stateful(uint16_t(i))) out.push_back(ctl_.port_name(uint16_t(i)));
    return out;
}

void CtControl::set_timeouts(const CtTimeouts& t) {
    const auto lock = ctl_.lock();
    table().set_timeouts(t);
}

CtTimeouts CtControl::timeouts() {
    const auto lock = ctl_.lock();
    return table().timeouts();
}

uint64_t CtControl::flush() {
    const auto lock = ctl_.lock();
    return table().flush();
}

std::vector<CtInfo> CtControl::list(const std::function<bool(const CtInfo&)>& want) {
    const auto lock = ctl_.lock();
    return table().list(ct_now_ms(), want);
}

CtStats CtControl::stats() {
    const auto lock = ctl_.lock();
    return table_ ? table_->stats() : CtStats{};
}

}  // namespace appliance
