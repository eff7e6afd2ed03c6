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

#include "core/rcu.h"

namespace appliance {

// What a worker does with a packet whose route names this next hop. Anything
// but `forward` leaves the fast path (see forward.cpp, output_stage).
enum class HopAction : uint8_t {
    forward = 0,  // rewrite with dst/src and send on port
    drop,         // count under drop_reason (reserved destinations)
    local,        // one of our addresses: the slow path answers it
    resolve,      // neighbour unknown yet: the slow path holds it and asks ARP
    unreachable,  // neighbour failed to answer: ICMP host unreachable
    group,        // equal-cost paths: a flow hash picks one of NextHopTable::group(id)
};

struct alignas(32) NextHop {
    rte_ether_addr dst;
    rte_ether_addr src;
    uint16_t port_id;     // ethdev port id
    uint16_t iface;       // the L3 interface it leaves by (iface/iface.h)
    uint16_t tx_port;     // the index of its port: the worker's tx batch
    uint16_t vlan;        // the sub-interface's VLAN id, tagged on output; 0: untagged
    // Egress IP MTU: larger packets leave the fast path. 0 unless the action
    // is forward, so one length test sends every other action out too.
    uint16_t mtu;
    HopAction action;
    uint8_t drop_reason;  // a DropReason, for HopAction::drop
};

// The members of an equal-cost group, immutable once published.
struct HopGroup {
    static constexpr uint32_t kMaxPaths = 16;
    uint32_t size;
    uint32_t members[kMaxPaths];  // next hop ids
};

struct NextHopInfo {
    uint32_t id;
    uint16_t iface;
    rte_ether_addr dst, src;
    HopAction action;
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
    // A group next hop over `members` (1..kMaxPaths ids, set already).
    void set_group(uint32_t id, const std::vector<uint32_t>& members);
    const HopGroup* group(uint32_t id) const { return groups_[id].load(std::memory_order_acquire); }
    void remove(uint32_t id);                   // NextHopError if unset or in use
    bool exists(uint32_t id) const { return id < capacity_ && get(id) != nullptr; }
    void check_usable(uint32_t id) const;       // NextHopError unless exists
    void ref(uint32_t id) { ++refs_[id]; }
    void unref(uint32_t id) { --refs_[id]; }
    uint32_t capacity() const { return capacity_; }
    std::vector<NextHopInfo> list(uint32_t below) const;  // ids < below

private:
    uint32_t capacity_;
    Rcu& rcu_;
    std::unique_ptr<std::atomic<NextHop*>[]> slots_;
    std::unique_ptr<std::atomic<HopGroup*>[]> groups_;  // beside the slots of group hops
    std::vector<uint64_t> refs_;
};

}  // namespace appliance
