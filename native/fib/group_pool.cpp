#include "fib/group_pool.h"

#include "core/errors.h"

namespace appliance {

GroupPool::GroupPool(uint32_t total, Rcu& rcu, std::string what)
    : total_(total), rcu_(rcu), what_(std::move(what)) {}

uint32_t GroupPool::take() {
    if (free_.empty() && fresh_ < total_) return fresh_++;
    if (free_.empty() && !retired_.empty()) {
        // Reuse unlinked groups whose grace period is over; wait for one if none is.
        if (!rcu_.passed(retired_.front().second)) rcu_.synchronize();
        for (auto it = retired_.begin(); it != retired_.end();) {
            if (rcu_.passed(it->second)) {
                free_.push_back(it->first);
                it = retired_.erase(it);
            } else {
                ++it;
            }
        }
    }
    if (free_.empty())
        throw TableFullError("all " + std::to_string(total_) + " " + what_ + " in use");
    const uint32_t g = free_.back();
    free_.pop_back();
    return g;
}

}  // namespace appliance
