#include "acl/acl_stage.h"

#include <type_traits>

#include "acl/acl_key.h"
#include "acl/acl_table.h"
#include "core/exceptions.h"
#include "nexthop/ecmp.h"
#include "trace/trace_hooks.h"

namespace appliance {

namespace {
// The packets of a burst in two lists, one classify call each: whole ones
// (in place, or a canonical copy) and partial ones (keys).
template <AclFamily F>
struct Inputs {
    using Canonical = std::conditional_t<F == kAcl4, AclCanonical4, AclCanonical6>;
    using PartialKey = std::conditional_t<F == kAcl4, AclPartialKey4, AclPartialKey6>;
    const uint8_t* whole[kBurstSize];
    uint16_t whole_at[kBurstSize];
    uint16_t n_whole = 0;
    const uint8_t* partial[kBurstSize];
    uint16_t partial_at[kBurstSize];
    uint16_t n_partial = 0;
    Canonical canonical[kBurstSize];  // only the rare ones are written
    PartialKey keys[kBurstSize];
    uint16_t n_canonical = 0;

    void add(const AclClassifier& acl, rte_mbuf* m, uint16_t i) {
        const bool v4 = F == kAcl4;
        const AclPath path = v4 ? acl_path4(m, acl.tcp_flags()) : acl_path6(m, acl.tcp_flags());
        if (likely(path == AclPath::in_place)) {
            whole[n_whole] = rte_pktmbuf_mtod_offset(m, const uint8_t*, sizeof(rte_ether_hdr)) + acl.input_offset(F);
        } else if (path == AclPath::canonical) {
            Canonical& c = canonical[n_canonical++];
            if constexpr (F == kAcl4) acl_canonical4(m, c); else acl_canonical6(m, c);
            whole[n_whole] = c.ip + acl.input_offset(F);
        } else {
            PartialKey& k = keys[n_partial];
            if constexpr (F == kAcl4) acl_partial4(m, k); else acl_partial6(m, k);
            partial[n_partial] = reinterpret_cast<const uint8_t*>(&k);
            partial_at[n_partial++] = i;
            return;
        }
        whole_at[n_whole++] = i;
    }
};

// Policy routing leaves the router's own traffic alone (Linux's local table
// comes before every `ip rule`): a redirect replaces only a route that leaves.
inline bool for_us(const NextHopTable& hops, uint32_t id) {
    const NextHop* hop = id < kAclKeep ? hops.get(id) : nullptr;  // below every sentinel
    return hop != nullptr && hop->action == HopAction::local;
}

// Counts each packet under its result and applies the verdict. Bursts mostly
// meet one entry: a run of equal results is counted in registers and stored
// once (a store per packet to the same counter chains ~5 cycles each).
inline void decide(const AclClassifier& acl, const NextHopTable& hops, uint64_t* counts,
                   rte_mbuf* const* pkts, uint32_t* ids, const uint16_t* at,
                   const uint32_t* results, uint16_t n) {
    const uint32_t* verdicts = acl.verdicts();  // loaded once: ids[] stores could alias it
    uint32_t run = results[0];
    uint64_t packets = 0, bytes = 0;
    for (uint16_t j = 0; j < n; ++j) {
        const uint16_t i = at[j];
        const uint32_t r = results[j];
        if (r != run) {
            counts[2 * run] += packets;
            counts[2 * run + 1] += bytes;
            run = r;
            packets = bytes = 0;
        }
        packets++;
        bytes += rte_pktmbuf_pkt_len(pkts[i]) - sizeof(rte_ether_hdr);  // IP bytes
        const uint32_t verdict = verdicts[r];
        if (verdict != kAclKeep && !(acl.redirects(r) && for_us(hops, ids[i]))) ids[i] = verdict;
    }
    counts[2 * run] += packets;
    counts[2 * run + 1] += bytes;
}

constexpr uint16_t kInOrder[kBurstSize] = {0,  1,  2,  3,  4,  5,  6,  7,  8,  9,  10,
                                            11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21,
                                            22, 23, 24, 25, 26, 27, 28, 29, 30, 31};

// The common burst also meets one entry (or the default) throughout: one
// count, one verdict (nothing to write when it permits).
inline bool decide_alike(const AclClassifier& acl, const NextHopTable& hops, uint64_t* counts,
                         rte_mbuf* const* pkts, uint32_t* ids, const uint32_t* results, uint16_t n) {
    const uint32_t r = results[0];
    uint32_t differ = 0;
    for (uint16_t i = 1; i < n; ++i) differ |= results[i] ^ r;
    if (differ != 0) return false;
    uint64_t bytes = 0;
    for (uint16_t i = 0; i < n; ++i) bytes += rte_pktmbuf_pkt_len(pkts[i]);
    counts[2 * r] += n;
    counts[2 * r + 1] += bytes - uint64_t(n) * sizeof(rte_ether_hdr);  // IP bytes
    const uint32_t verdict = acl.verdict(r);
    if (verdict == kAclKeep) return true;
    for (uint16_t i = 0; i < n; ++i)
        if (!(acl.redirects(r) && for_us(hops, ids[i]))) ids[i] = verdict;
    return true;
}

// The common burst: every packet classified in place, in one call.
template <AclFamily F>
bool classify_in_place(const WorkerContext& w, const AclClassifier& acl, rte_mbuf* const* pkts,
                       uint16_t n, uint32_t* ids) {
    const uint8_t* data[kBurstSize];
    const uint32_t offset = sizeof(rte_ether_hdr) + acl.input_offset(F);
    const bool tcp_flags = acl.tcp_flags();
    bool all = true;
    for (uint16_t i = 0; i < n; ++i) {
        data[i] = rte_pktmbuf_mtod_offset(pkts[i], const uint8_t*, offset);
        all &= F == kAcl4 ? acl_in_place4(pkts[i], tcp_flags) : acl_in_place6(pkts[i], tcp_flags);
    }
    if (unlikely(!all)) return false;
    uint32_t results[kBurstSize];
    acl.classify(F, kAclWhole, data, results, n);
    const NextHopTable& hops = *w.tables.hops;
    uint64_t* counts = acl.counters(w.index);
    if (!decide_alike(acl, hops, counts, pkts, ids, results, n))
        decide(acl, hops, counts, pkts, ids, kInOrder, results, n);
    return true;
}

template <AclFamily F>
void classify_burst(const WorkerContext& w, const AclClassifier& acl, rte_mbuf* const* pkts,
                    uint16_t n, uint32_t* ids) {
    if (likely(classify_in_place<F>(w, acl, pkts, n, ids))) return;
    Inputs<F> in;
    for (uint16_t i = 0; i < n; ++i) in.add(acl, pkts[i], i);
    uint32_t results[kBurstSize];
    uint64_t* counts = acl.counters(w.index);
    const NextHopTable& hops = *w.tables.hops;
    if (in.n_whole != 0) {
        acl.classify(F, kAclWhole, in.whole, results, in.n_whole);
        decide(acl, hops, counts, pkts, ids, in.whole_at, results, in.n_whole);
    }
    if (unlikely(in.n_partial != 0)) {
        acl.classify(F, kAclPartial, in.partial, results, in.n_partial);
        decide(acl, hops, counts, pkts, ids, in.partial_at, results, in.n_partial);
    }
}
}  // namespace

void acl_classify(const WorkerContext& w, const AclClassifier& acl, bool v6, rte_mbuf* const* pkts,
                  uint16_t n, uint32_t* ids) {
    if (v6)
        classify_burst<kAcl6>(w, acl, pkts, n, ids);
    else
        classify_burst<kAcl4>(w, acl, pkts, n, ids);
}

namespace {
template <AclFamily F>
uint32_t result_of(const AclClassifier& acl, rte_mbuf* m) {
    Inputs<F> in;
    in.add(acl, m, 0);
    uint32_t result = 0;
    if (in.n_whole != 0) acl.classify(F, kAclWhole, in.whole, &result, 1);
    else acl.classify(F, kAclPartial, in.partial, &result, 1);
    return result;
}
}  // namespace

void acl_trace(WorkerContext& w, const AclClassifier& acl, bool out, uint16_t iface, bool v6,
               rte_mbuf* const* pkts, uint16_t n) {
    for (uint16_t i = 0; i < n; ++i) {
        if (trace_id(pkts[i]) == 0) continue;
        const uint32_t result = v6 ? result_of<kAcl6>(acl, pkts[i]) : result_of<kAcl4>(acl, pkts[i]);
        trace_note(w, pkts[i], TraceStep::acl, out, result, iface);
    }
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
            acls.out(hop->iface) != nullptr)
            port_of[i] = hop->iface;
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
        if (unlikely(w.tracing)) acl_trace(w, *acl, true, port, v6, group, k);
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
