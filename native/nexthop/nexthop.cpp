#include "nexthop/nexthop.h"

#include <algorithm>

#include <rte_malloc.h>

#include "core/errors.h"

namespace appliance {

NextHopTable::NextHopTable(uint32_t capacity, Rcu& rcu)
    : capacity_(capacity), rcu_(rcu), slots_(new std::atomic<NextHop*>[capacity]),
      groups_(new std::atomic<HopGroup*>[capacity]), refs_(capacity, 0) {
    for (uint32_t i = 0; i < capacity; ++i) {
        slots_[i].store(nullptr);
        groups_[i].store(nullptr);
    }
}

NextHopTable::~NextHopTable() {
    for (uint32_t i = 0; i < capacity_; ++i) {
        rte_free(slots_[i].load());
        rte_free(groups_[i].load());
    }
}

void NextHopTable::set_group(uint32_t id, const std::vector<uint32_t>& members) {
    if (members.empty() || members.size() > HopGroup::kMaxPaths)
        throw NextHopError("a group has 1.." + std::to_string(HopGroup::kMaxPaths) + " paths");
    for (uint32_t m : members) check_usable(m);
    auto* fresh = static_cast<HopGroup*>(rte_zmalloc("nexthop_group", sizeof(HopGroup), 0));
    if (fresh == nullptr) throw TableFullError("out of memory for next hop group " + std::to_string(id));
    fresh->size = uint32_t(members.size());
    std::copy(members.begin(), members.end(), fresh->members);
    // Members before the slot that says "group": a worker never sees one without the other.
    HopGroup* old = groups_[id].exchange(fresh, std::memory_order_release);
    NextHop hop{};
    hop.action = HopAction::group;  // mtu 0: workers take it off the common path
    set(id, hop);  // (waits for a grace period, after which `old` is unused)
    if (old != nullptr) {
        rcu_.synchronize();
        rte_free(old);
    }
}

void NextHopTable::check_usable(uint32_t id) const {
    if (id >= capacity_)
        throw NextHopError("next hop " + std::to_string(id) + " out of range 0.." +
                           std::to_string(capacity_ - 1));
    if (get(id) == nullptr) throw NextHopError("next hop " + std::to_string(id) + " is not set");
}

void NextHopTable::set(uint32_t id, const NextHop& hop) {
    if (id >= capacity_)
        throw NextHopError("next hop " + std::to_string(id) + " out of range 0.." +
                           std::to_string(capacity_ - 1));
    auto* fresh = static_cast<NextHop*>(rte_malloc("nexthop", sizeof(NextHop), 0));
    if (fresh == nullptr) throw TableFullError("out of memory for next hop " + std::to_string(id));
    *fresh = hop;
    NextHop* old = slots_[id].exchange(fresh, std::memory_order_release);
    if (old != nullptr) {
        rcu_.synchronize();
        rte_free(old);
    }
}

void NextHopTable::remove(uint32_t id) {
    check_usable(id);
    if (refs_[id] != 0)
        throw NextHopError("next hop " + std::to_string(id) + " is used by " +
                           std::to_string(refs_[id]) + " routes or rules; delete them first");
    NextHop* old = slots_[id].exchange(nullptr, std::memory_order_release);
    HopGroup* old_group = groups_[id].exchange(nullptr, std::memory_order_release);
    rcu_.synchronize();
    rte_free(old);
    rte_free(old_group);
}

std::vector<NextHopInfo> NextHopTable::list(uint32_t below) const {
    std::vector<NextHopInfo> out;
    for (uint32_t i = 0; i < std::min(below, capacity_); ++i)
        if (const NextHop* h = get(i))
            out.push_back({i, h->iface, h->dst, h->src, h->action, refs_[i]});
    return out;
}

}  // namespace appliance
