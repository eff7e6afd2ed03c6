// Connection tracking in the control API: which interfaces filter
// statefully, the timeouts, the sessions (listed, flushed) and counters.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "core/control.h"
#include "ct/ct_table.h"

namespace appliance {

class CtControl {
public:
    // `table`: nullptr when the config has no connection table.
    CtControl(const ControlContext& ctl, CtTable* table) : ctl_(ctl), table_(table) {}

    void set_stateful(const std::string& iface, bool on);
    std::vector<std::string> stateful() ;  // the interfaces that are
    void set_timeouts(const CtTimeouts& t);
    CtTimeouts timeouts();
    uint64_t flush();
    std::vector<CtInfo> list(const std::function<bool(const CtInfo&)>& want);
    CtStats stats();
    bool on() const { return table_ != nullptr; }

private:
    CtTable& table() const;  // StateError when there is none

    const ControlContext& ctl_;
    CtTable* table_;
};

}  // namespace appliance
