// The per-packet trace in the control API: one trace at a time; start
// replaces the last one's records, stop ends the choosing and keeps them
// for show.
#pragma once

#include <memory>

#include "core/control.h"
#include "core/rcu.h"
#include "trace/trace.h"

namespace appliance {

class TraceControl {
public:
    TraceControl(const ControlContext& ctl, TraceSlot& slot, Rcu& rcu, unsigned workers)
        : ctl_(ctl), slot_(slot), rcu_(rcu), workers_(workers) {}

    // CaptureError for a match libpcap refuses, and for a bad spec.
    void start(const TraceSpec& spec);
    void stop();  // (none running: nothing to do)
    bool running() const { return slot_.live() != nullptr; }
    // The running trace, else the last one stopped; StateError when none was started.
    std::shared_ptr<const Trace> last() const;
    void release();  // the data plane closes

private:
    const ControlContext& ctl_;
    TraceSlot& slot_;
    Rcu& rcu_;
    unsigned workers_;
    std::shared_ptr<Trace> last_;  // stopped, kept for show
};

}  // namespace appliance
