// The second-level groups of a lookup table (Dir24_8, Trie6): which are
// free, and which were unlinked and wait for an RCU grace period before
// they may be reused (a worker may still be reading one).
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "core/rcu.h"

namespace appliance {

class GroupPool {
public:
    GroupPool(uint32_t total, Rcu& rcu, std::string what);

    uint32_t take();  // TableFullError when every group is in use
    void retire(uint32_t group) { retired_.emplace_back(group, rcu_.start()); }
    uint32_t in_use() const { return fresh_ - uint32_t(free_.size()) - uint32_t(retired_.size()); }
    uint32_t total() const { return total_; }

private:
    uint32_t total_;
    uint32_t fresh_ = 0;  // groups [fresh_, total_) were never taken (a VRF's are mostly)
    std::vector<uint32_t> free_;
    std::vector<std::pair<uint32_t, uint64_t>> retired_;  // group, RCU token
    Rcu& rcu_;
    std::string what_;
};

}  // namespace appliance
