#include "acl/acl_stage.h"

#include "acl/acl_key.h"
#include "acl/acl_table.h"
#include "core/exceptions.h"
#include "nexthop/ecmp.h"

namespace appliance {

namespace {
// Policy routing leaves the router's own traffic alone (Linux's local table
// comes before every `ip rule`): a redirect replaces only a route that leaves.
inline bool for_us(const NextHopTable& hops, uint32_t id) {
    const NextHop* hop = id < kAclKeep ? hops.get(id) : nullptr;  // below every sentinel
    return hop != nullptr && hop->action == HopAction::local;
}

template <class Key, class MakeKey, class Classify>
inline void classify_burst(const AclClassifier& acl, const NextHopTable& hops, unsigned worker,
                           rte_mbuf* const* pkts, uint16_t n, uint32_t* ids, MakeKey make_key,
                           Classify classify) {
    Key keys[kBurstSize];
    const uint8_t* data[kBurstSize];
    uint32_t results[kBurstSize];
    for (uint16_t i = 0; i < n; ++i) {
        make_key(pkts[i], keys[i]);
        data[i] = reinterpret_cast<const uint8_t*>(&keys[i]);
    }
    classify(data, results, n);
    uint64_t* counts = acl.counters(worker);
    for (uint16_t i = 0; i < n; ++i) {
        const uint32_t r = results[i];
        counts[2 * r]++;
        counts[2 * r + 1] += rte_pktmbuf_pkt_len(pkts[i]) - sizeof(rte_ether_hdr);  // IP bytes
        const uint32_t verdict = acl.verdict(r);
        if (verdict != kAclKeep && !(acl.redirects(r) && for_us(hops, ids[i]))) ids[i] = verdict;
    }
}
}  // namespace

void acl_classify(const WorkerContext& w, const AclClassifier& acl, bool v6, rte_mbuf* const* pkts,
                  uint16_t n, uint32_t* ids) {
    const NextHopTable& hops = *w.tables.hops;
    if (v6)
        classify_burst<AclKey6>(acl, hops, w.index, pkts, n, ids, acl_key6,
                                [&](const uint8_t** d, uint32_t* r, uint32_t k) { acl.classify6(d, r, k); });
    else
        classify_burst<AclKey4>(acl, hops, w.index, pkts, n, ids, acl_key4,
                                [&](const uint8_t** d, uint32_t* r, uint32_t k) { acl.classify4(d, r, k); });
}

void acl_out_stage(WorkerContext& w, bool v6, rte_mbuf* const* pkts, uint16_t n, uint32_t* ids) {
    const NextHopTable& hops = *w.tables.hops;
    const AclTable& acls = *w.tables.acls;
    constexpr uint16_t kNone = 0xffff;
    uint16_t port_of[kBurstSize];
    for (uint16_t i = 0; i < n; ++i) {
        port_of[i] = kNone;
        const NextHop* hop = ids[i] < kRuleDrop ? hops.get(ids[i]) : nullptr;
        if (hop != nullptr && hop->action == HopAction::group) {
            ids[i] = group_member(hops, ids[i], pkts[i]);
            hop = ids[i] < kRuleDrop ? hops.get(ids[i]) : nullptr;
        }
        // Leaving by a port (now or once its neighbour resolves), and that port filters.
        if (hop != nullptr && (hop->action == HopAction::forward || hop->action == HopAction::resolve) &&
            acls.out(hop->port_index) != nullptr)
            port_of[i] = hop->port_index;
    }
    for (uint16_t i = 0; i < n; ++i) {
        if (port_of[i] == kNone) continue;
        // This packet's port, and every later packet of the burst that leaves by it.
        const uint16_t port = port_of[i];
        rte_mbuf* group[kBurstSize];
        uint32_t group_ids[kBurstSize];
        uint16_t where[kBurstSize];
        uint16_t k = 0;
        for (uint16_t j = i; j < n; ++j) {
            if (port_of[j] != port) continue;
            group[k] = pkts[j];
            group_ids[k] = ids[j];
            where[k++] = j;
            port_of[j] = kNone;
        }
        const AclClassifier* acl = acls.out(port);
        if (acl == nullptr) continue;  // unbound since the first look
        acl_classify(w, *acl, v6, group, k, group_ids);
        for (uint16_t j = 0; j < k; ++j) ids[where[j]] = group_ids[j];
    }
}

}  // namespace appliance

namespace appliance {

bool acl_refuses_punt(WorkerContext& w, rte_mbuf* m, uint16_t in_port) {
    const AclClassifier* acl = w.tables.acls->in(in_port);
    if (acl == nullptr) return false;
    uint32_t id = kAclKeep;
    acl_classify(w, *acl, false, &m, 1, &id);
    if (id == kAclKeep) return false;  // permit
    const NextHop* hop = w.tables.hops->get(id);
    if (hop == nullptr || hop->action != HopAction::drop) return false;  // redirect: routed as usual
    output_exception(w, m, in_port, id, hop, PuntKind::ipv4_routed);
    return true;
}

}  // namespace appliance
