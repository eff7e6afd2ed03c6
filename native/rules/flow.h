// Exact-match rules: 5-tuple (IPv4 or IPv6) -> forward to a next hop, or
// drop. An rte_hash in lock-free reader/writer mode per family; deleted key
// slots are reclaimed after an RCU grace period by the hash library itself.
#pragma once

#include <atomic>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "nexthop/nexthop.h"
#include "rules/rule_filter.h"

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

// The IPv6 5-tuple, network byte order; ports only when TCP/UDP follows the
// fixed header directly (extension headers: ports 0).
struct FlowKey6 {
    uint8_t src_ip[16];
    uint8_t dst_ip[16];
    uint16_t src_port;
    uint16_t dst_port;
    uint8_t proto;
    uint8_t pad[3];
    bool operator<(const FlowKey6& o) const;
};
static_assert(sizeof(FlowKey6) == 40, "FlowKey6 must stay 40 bytes");

enum class RuleAction : uint32_t { forward = 1, drop = 2 };

// Packed into the hash's data pointer: action in the high half.
inline uintptr_t pack_rule(RuleAction a, uint32_t nexthop) {
    return (uintptr_t(a) << 32) | nexthop;
}
inline RuleAction rule_action(uintptr_t data) { return RuleAction(data >> 32); }
inline uint32_t rule_nexthop(uintptr_t data) { return uint32_t(data); }

template <class Key>
struct BasicRule {
    Key key;  // network byte order
    RuleAction action;
    uint32_t nexthop;  // meaningful for forward
};
using Rule = BasicRule<FlowKey>;
using Rule6 = BasicRule<FlowKey6>;

template <class Key>
class BasicFlowTable {
public:
    using RuleT = BasicRule<Key>;
    BasicFlowTable(const std::string& name, uint32_t capacity, NextHopTable& hops, Rcu& rcu);
    ~BasicFlowTable();
    BasicFlowTable(const BasicFlowTable&) = delete;
    BasicFlowTable& operator=(const BasicFlowTable&) = delete;

    rte_hash* hash() const { return hash_; }
    // Packets whose address pair it rules out skip hash().
    const RuleFilter& filter() const { return filter_; }
    // Workers skip the lookup entirely while there are no rules.
    uint32_t active() const { return count_.load(std::memory_order_relaxed); }

    void add(const RuleT& r);  // add or replace
    void remove(const Key& k);
    std::vector<RuleT> list() const;
    size_t size() const { return rules_.size(); }
    uint32_t capacity() const { return capacity_; }

private:
    rte_hash* hash_ = nullptr;
    uint32_t capacity_;
    RuleFilter filter_;
    NextHopTable& hops_;
    std::map<Key, RuleT> rules_;
    std::atomic<uint32_t> count_{0};
};
using FlowTable = BasicFlowTable<FlowKey>;
using FlowTable6 = BasicFlowTable<FlowKey6>;

inline uint32_t pair_hash(const FlowKey& k) { return pair_hash(k.src_ip, k.dst_ip); }
inline uint32_t pair_hash(const FlowKey6& k) { return pair_hash(k.src_ip); }

std::string describe(const FlowKey& k);
std::string describe(const FlowKey6& k);

}  // namespace appliance
