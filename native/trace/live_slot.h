// What workers and the slow path find running (a capture, a trace): one
// pointer a worker loads once a loop, freed only after an RCU grace period;
// the slow path holds a shared_ptr while it uses it.
#pragma once

#include <atomic>
#include <memory>
#include <mutex>

namespace appliance {

template <class T>
class LiveSlot {
public:
    T* live() const { return live_.load(std::memory_order_acquire); }
    std::shared_ptr<T> hold() const {
        std::lock_guard<std::mutex> lock(mutex_);
        return current_;
    }
    // Control thread only (the writer lock held): `next` runs from now; the one
    // it replaces is returned, for the caller to keep until workers are past it.
    std::shared_ptr<T> swap(std::shared_ptr<T> next) {
        std::lock_guard<std::mutex> lock(mutex_);
        std::swap(current_, next);
        live_.store(current_.get(), std::memory_order_release);
        return next;
    }
    const std::atomic<T*>* pointer() const { return &live_; }

private:
    std::atomic<T*> live_{nullptr};
    mutable std::mutex mutex_;
    std::shared_ptr<T> current_;
};

}  // namespace appliance
