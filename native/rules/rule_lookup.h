// Exact-match rules as both paths apply them: what a rule's hash data means
// as a next-hop id, and the fast path's burst lookup behind the filter.
#pragma once

#include <cstdint>

#include <rte_hash.h>
#include <rte_mbuf.h>

#include "rules/flow.h"
#include "core/mempool.h"
#include "core/punt.h"

namespace appliance {

// The next-hop id a rule's hash data stands for: kRuleDrop or its next hop.
inline uint32_t rule_hop(const void* data) {
    const auto packed = reinterpret_cast<uintptr_t>(data);
    return rule_action(packed) == RuleAction::drop ? kRuleDrop : rule_nexthop(packed);
}

// Rules override ids[] for their 5-tuples. Only packets whose address pair
// the table's filter cannot rule out are keyed and looked up (in one bulk).
template <class Table, class PairHashOf, class KeyOf>
inline void apply_rules(const Table& flows, rte_mbuf* const* pkts, uint16_t n, uint32_t* ids,
                        PairHashOf pair_hash_of, KeyOf key_of) {
    uint16_t which[kBurstSize];
    uint16_t c = 0;
    for (uint16_t i = 0; i < n; ++i) {
        // A branch, not a branchless append: most packets miss, and a count
        // carried through every probe would chain the probes' cache misses.
        if (unlikely(flows.filter().may_match(pair_hash_of(pkts[i])))) which[c++] = i;
    }
    if (c == 0) return;
    decltype(key_of(pkts[0])) keys[kBurstSize];
    const void* key_ptrs[kBurstSize];
    for (uint16_t j = 0; j < c; ++j) {
        keys[j] = key_of(pkts[which[j]]);
        key_ptrs[j] = &keys[j];
    }
    uint64_t hits = 0;
    void* data[kBurstSize];
    if (rte_hash_lookup_bulk_data(flows.hash(), key_ptrs, c, &hits, data) <= 0) return;
    for (uint16_t j = 0; j < c; ++j)
        if (hits & (1ull << j)) ids[which[j]] = rule_hop(data[j]);
}

}  // namespace appliance
