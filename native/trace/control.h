// Packet capture in the control API: one capture at a time, started with
// its spec, read by whoever started it, stopped (or done at its count).
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "core/control.h"
#include "core/rcu.h"
#include "trace/capture.h"

struct rte_mempool;

namespace appliance {

class CaptureControl {
public:
    CaptureControl(const ControlContext& ctl, CaptureSlot& slot, Rcu& rcu, std::string tag)
        : ctl_(ctl), slot_(slot), rcu_(rcu), tag_(std::move(tag)) {}
    ~CaptureControl();

    // StateError while another runs; CaptureError for a bad spec (the filter).
    void start(const CaptureSpec& spec);
    // The copies made since the last read (up to `max`); StateError when none runs.
    std::vector<CapturedPacket> read(unsigned max);
    CaptureStats stats();
    bool done();
    void stop();  // (none running: nothing to do)
    bool running() const { return slot_.live() != nullptr; }
    // The data plane closes (workers and the slow path stopped, the writer lock held).
    void release();

private:
    std::shared_ptr<Capture> current() const;  // StateError when none runs

    const ControlContext& ctl_;
    CaptureSlot& slot_;
    Rcu& rcu_;
    std::string tag_;
    // The copies' buffers: made at the first capture, kept; freed after the last
    // capture (a reader may still hold one when the data plane closes).
    std::shared_ptr<rte_mempool> pool_;
    unsigned started_ = 0;         // (ring names)
};

}  // namespace appliance
