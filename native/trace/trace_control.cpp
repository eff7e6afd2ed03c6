#include "trace/trace_control.h"

#include "core/errors.h"

namespace appliance {

namespace {
constexpr uint32_t kMaxCount = 4096;  // packets a trace may hold (~4 MB of logs a worker)
}  // namespace

void TraceControl::start(const TraceSpec& spec) {
    if (spec.count == 0 || spec.count > kMaxCount)
        throw CaptureError("trace: count must be 1.." + std::to_string(kMaxCount) + ", not " +
                           std::to_string(spec.count));
    if (spec.ifaces.size() > ctl_.port_count()) throw CaptureError("trace: more interfaces than there are");
    auto trace = std::make_shared<Trace>(spec, workers_);  // (a bad match throws here)
    const auto lock = ctl_.lock();
    std::shared_ptr<Trace> old = slot_.swap(std::move(trace));
    // Every worker has begun a loop since: none still holds the old one.
    rcu_.synchronize();
    last_.reset();
}

void TraceControl::stop() {
    const auto lock = ctl_.lock();
    std::shared_ptr<Trace> old = slot_.swap(nullptr);
    if (old == nullptr) return;
    rcu_.synchronize();
    last_ = std::move(old);
}

std::shared_ptr<const Trace> TraceControl::last() const {
    const auto lock = ctl_.lock();
    std::shared_ptr<const Trace> t = slot_.hold();
    if (t == nullptr) t = last_;
    if (t == nullptr) throw StateError("no trace was started (appliance trace start)");
    return t;
}

void TraceControl::release() {
    slot_.swap(nullptr);
    last_.reset();
}

}  // namespace appliance
