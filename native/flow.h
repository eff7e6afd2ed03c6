// Exact-match rules: IPv4 5-tuple -> forward to a next hop, or drop. An
// rte_hash in lock-free reader/writer mode; deleted key slots are reclaimed
// after an RCU grace period by the hash library itself.
#pragma once

#include <atomic>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "nexthop.h"

struct rte_hash;

namespace appliance {

// Network byte order, as read from the packet; padded to 16 bytes.
struct FlowKey {
    uint32_t src_ip;
    uint32_t dst_ip;
    uint16_t src_port;
    uint16_t dst_port;
    uint8_t proto;
    uint8_t pad[3];
    bool operator<(const FlowKey& o) const;
};
static_assert(sizeof(FlowKey) == 16, "FlowKey must stay 16 bytes");

enum class RuleAction : uint32_t { forward = 1, drop = 2 };

// Packed into the hash's data pointer: action in the high half.
inline uintptr_t pack_rule(RuleAction a, uint32_t nexthop) {
    return (uintptr_t(a) << 32) | nexthop;
}
inline RuleAction rule_action(uintptr_t data) { return RuleAction(data >> 32); }
inline uint32_t rule_nexthop(uintptr_t data) { return uint32_t(data); }

struct Rule {
    FlowKey key;  // network byte order
    RuleAction action;
    uint32_t nexthop;  // meaningful for forward
};

class FlowTable {
public:
    FlowTable(const std::string& name, uint32_t capacity, NextHopTable& hops, Rcu& rcu);
    ~FlowTable();
    FlowTable(const FlowTable&) = delete;
    FlowTable& operator=(const FlowTable&) = delete;

    rte_hash* hash() const { return hash_; }
    // Workers skip the lookup entirely while there are no rules.
    uint32_t active() const { return count_.load(std::memory_order_relaxed); }

    void add(const Rule& r);  // add or replace
    void remove(const FlowKey& k);
    std::vector<Rule> list() const;
    size_t size() const { return rules_.size(); }
    uint32_t capacity() const { return capacity_; }

private:
    rte_hash* hash_ = nullptr;
    uint32_t capacity_;
    NextHopTable& hops_;
    std::map<FlowKey, Rule> rules_;
    std::atomic<uint32_t> count_{0};
};

std::string describe(const FlowKey& k);

}  // namespace appliance
