// The next-hop table: id -> (output port, dst MAC, src MAC). Workers read a
// slot's pointer; the writer publishes a new entry and frees the old one
// after an RCU grace period, so no worker ever sees half an entry.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <vector>

#include <rte_common.h>
#include <rte_ether.h>

#include "rcu.h"

namespace appliance {

struct alignas(16) NextHop {
    rte_ether_addr dst;
    rte_ether_addr src;
    uint16_t port_id;  // ethdev port id
    uint16_t port_index;  // index in the dataplane's port list
};

struct NextHopInfo {
    uint32_t id;
    uint16_t port_index;
    rte_ether_addr dst, src;
    uint64_t routes;  // routes and rules using it
};

class NextHopTable {
public:
    NextHopTable(uint32_t capacity, Rcu& rcu);
    ~NextHopTable();

    // Fast path: nullptr when unset.
    const NextHop* get(uint32_t id) const {
        return slots_[id].load(std::memory_order_acquire);
    }

    void set(uint32_t id, const NextHop& hop);  // add or replace
    void remove(uint32_t id);                   // NextHopError if unset or in use
    bool exists(uint32_t id) const { return id < capacity_ && get(id) != nullptr; }
    void check_usable(uint32_t id) const;       // NextHopError unless exists
    void ref(uint32_t id) { ++refs_[id]; }
    void unref(uint32_t id) { --refs_[id]; }
    uint32_t capacity() const { return capacity_; }
    std::vector<NextHopInfo> list() const;

private:
    uint32_t capacity_;
    Rcu& rcu_;
    std::unique_ptr<std::atomic<NextHop*>[]> slots_;
    std::vector<uint64_t> refs_;
};

}  // namespace appliance
