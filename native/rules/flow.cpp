#include "rules/flow.h"

#include <cstring>

#include <arpa/inet.h>
#include <rte_errno.h>
#include <rte_hash.h>
#include <rte_hash_crc.h>

#include "core/errors.h"

namespace appliance {

bool FlowKey::operator<(const FlowKey& o) const { return std::memcmp(this, &o, sizeof o) < 0; }
bool FlowKey6::operator<(const FlowKey6& o) const { return std::memcmp(this, &o, sizeof o) < 0; }

std::string describe(const FlowKey& k) {
    char src[INET_ADDRSTRLEN], dst[INET_ADDRSTRLEN];
    inet_ntop(AF_INET, &k.src_ip, src, sizeof src);
    inet_ntop(AF_INET, &k.dst_ip, dst, sizeof dst);
    return std::string("proto ") + std::to_string(k.proto) + " " + src + ":" +
           std::to_string(ntohs(k.src_port)) + " -> " + dst + ":" +
           std::to_string(ntohs(k.dst_port));
}

std::string describe(const FlowKey6& k) {
    char src[INET6_ADDRSTRLEN], dst[INET6_ADDRSTRLEN];
    inet_ntop(AF_INET6, k.src_ip, src, sizeof src);
    inet_ntop(AF_INET6, k.dst_ip, dst, sizeof dst);
    return std::string("proto ") + std::to_string(k.proto) + " [" + src + "]:" +
           std::to_string(ntohs(k.src_port)) + " -> [" + dst + "]:" +
           std::to_string(ntohs(k.dst_port));
}

template <class Key>
BasicFlowTable<Key>::BasicFlowTable(const std::string& name, uint32_t capacity, NextHopTable& hops,
                                    Rcu& rcu)
    : capacity_(capacity), filter_(capacity), hops_(hops) {
    rte_hash_parameters p{};
    p.name = name.c_str();
    // Buckets hold 8; room for the extendable table keeps inserts from failing early.
    p.entries = capacity < 8 ? 8 : capacity;
    p.key_len = sizeof(Key);
    p.hash_func = rte_hash_crc;
    p.socket_id = SOCKET_ID_ANY;
    p.extra_flag = RTE_HASH_EXTRA_FLAGS_RW_CONCURRENCY_LF | RTE_HASH_EXTRA_FLAGS_EXT_TABLE;
    hash_ = rte_hash_create(&p);
    if (hash_ == nullptr)
        throw ResourceError("cannot create rule table of " + std::to_string(capacity) +
                          " entries: " + dpdk_strerror(rte_errno));
    rte_hash_rcu_config rcfg{};
    rcfg.v = rcu.get();
    rcfg.mode = RTE_HASH_QSBR_MODE_DQ;
    if (rte_hash_rcu_qsbr_add(hash_, &rcfg) != 0) {
        rte_hash_free(hash_);
        throw ResourceError("cannot attach RCU to the rule table: " + dpdk_strerror(rte_errno));
    }
}

template <class Key>
BasicFlowTable<Key>::~BasicFlowTable() { rte_hash_free(hash_); }

template <class Key>
void BasicFlowTable<Key>::add(const RuleT& r) {
    if (r.action == RuleAction::forward) hops_.check_usable(r.nexthop);
    auto it = rules_.find(r.key);
    if (it == rules_.end() && rules_.size() >= capacity_)
        throw TableFullError("rule " + describe(r.key) + ": rule table full (" +
                             std::to_string(capacity_) + " rules)");
    // With RW_CONCURRENCY_LF, replacing the data of an existing key is atomic.
    int rc = rte_hash_add_key_data(hash_, &r.key, reinterpret_cast<void*>(pack_rule(r.action, r.nexthop)));
    if (rc < 0)
        throw TableFullError("rule " + describe(r.key) + ": rte_hash_add_key_data failed: " +
                             dpdk_strerror(rc));
    if (it != rules_.end()) {
        if (it->second.action == RuleAction::forward) hops_.unref(it->second.nexthop);
        it->second = r;
    } else {
        rules_.emplace(r.key, r);
        filter_.add(pair_hash(r.key));  // after the hash entry: see rule_filter.h
    }
    if (r.action == RuleAction::forward) hops_.ref(r.nexthop);
    count_.store(uint32_t(rules_.size()), std::memory_order_relaxed);
}

template <class Key>
void BasicFlowTable<Key>::remove(const Key& k) {
    auto it = rules_.find(k);
    if (it == rules_.end()) throw RuleError("rule " + describe(k) + ": no such rule");
    int rc = rte_hash_del_key(hash_, &k);
    if (rc < 0) throw RuleError("rule " + describe(k) + ": rte_hash_del_key failed: " + dpdk_strerror(rc));
    if (it->second.action == RuleAction::forward) hops_.unref(it->second.nexthop);
    rules_.erase(it);
    filter_.remove(pair_hash(k));
    count_.store(uint32_t(rules_.size()), std::memory_order_relaxed);
}

template <class Key>
std::vector<BasicRule<Key>> BasicFlowTable<Key>::list() const {
    std::vector<RuleT> out;
    for (const auto& [k, r] : rules_) out.push_back(r);
    return out;
}

template class BasicFlowTable<FlowKey>;
template class BasicFlowTable<FlowKey6>;

}  // namespace appliance
