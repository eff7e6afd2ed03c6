// IPv6 on the worker's burst: the packets input_stage() found to be IPv6 for
// this port go through their checks, a longest-prefix match in the Trie6
// and the rewrite into the same per-port tx batches as IPv4.
//
// Exact-match rules (FlowTable6) and ACLs override the lookup as for IPv4. What is
// scoped to the link, for us, unresolved or would earn an ICMPv6 error goes
// to the slow path as IPv4's exceptions do.
#include "ip6/forward6.h"

#include <rte_hash.h>

#include "acl/acl_stage.h"
#include "core/exceptions.h"
#include "ct/ct_stage.h"
#include "iface/vlan_stage.h"
#include "ip6/ipv6_input.h"
#include "rules/rule_lookup.h"
#include "trace/trace_hooks.h"

namespace appliance {

namespace {
// What a missing next hop reads as: mtu 0, so the one length test catches it.
const NextHop kNoHop{};

// Exact-match rules override the LPM result for their 5-tuple.
void rule_stage6(const FlowTable6& flows, rte_mbuf* const* pkts, uint16_t n, uint32_t* ids) {
    apply_rules(
        flows, pkts, n, ids,
        [](rte_mbuf* m) {
            return pair_hash(rte_pktmbuf_mtod_offset(m, const rte_ipv6_hdr*, sizeof(rte_ether_hdr))->src_addr);
        },
        [](rte_mbuf* m) { return flow_key6(m); });
}
}  // namespace

void forward6_burst(WorkerContext& w, uint16_t in_port, rte_mbuf** pkts, uint16_t n) {
    rte_mbuf* ok[kBurstSize];
    const uint8_t* dst[kBurstSize];
    uint32_t ids[kBurstSize];
    uint16_t m = 0;
    for (uint16_t i = 0; i < n; ++i) {
        const unsigned verdict = ipv6_input(pkts[i]);
        if (verdict == kIpv6Punt) {
            punt(w, pkts[i], PuntKind::ipv6_input, in_port, 0);
            continue;
        }
        if (verdict == kIpv6HopLimit) {  // an ICMPv6 error at most: under the budget
            punt_for_error(w, pkts[i], DropReason::ttl_expired, in_port, 0, PuntKind::ipv6_input);
            continue;
        }
        if (verdict != kIpv6Pass) {
            drop_packet(w, pkts[i], DropReason(verdict), in_port);
            continue;
        }
        ok[m] = pkts[i];
        dst[m] = rte_pktmbuf_mtod_offset(pkts[i], const rte_ipv6_hdr*, sizeof(rte_ether_hdr))->dst_addr;
        m++;
    }
    const Trie6& table = w.tables.fib6[in_port]->table();
    uint16_t i = 0;
    for (; i + 4 <= m; i += 4) table.lookup4(&dst[i], &ids[i], kNoRoute);
    for (; i < m; ++i) ids[i] = table.lookup(dst[i], kNoRoute);
    if (unlikely(w.tracing)) {
        trace_steps(w, TraceStep::input, ok, m, 6);
        trace_ids(w, TraceStep::lookup, ok, m, ids, 6, w.tables.iface_vrf[in_port]);
    }
    if (m != 0 && w.tables.flows6->active() != 0) {
        uint32_t before[kBurstSize];
        if (unlikely(w.tracing)) std::memcpy(before, ids, m * sizeof ids[0]);
        rule_stage6(*w.tables.flows6, ok, m, ids);
        if (unlikely(w.tracing))
            for (i = 0; i < m; ++i)
                if (ids[i] != before[i]) trace_hop(w, ok[i], TraceStep::rule, ids[i]);
    }
    if (m != 0 && acl_applies(w, in_port)) acl_stages(w, in_port, true, ok, m, ids);
    if (m != 0 && unlikely(ct_applies(w))) {
        ct_stage(w, in_port, true, ok, m, ids, nullptr);
        if (unlikely(w.tracing)) ct_trace(w, in_port, true, ok, m, ids);
    }

    const NextHopTable& hops = *w.tables.hops;
    uint32_t last_id = kNoRoute;
    const NextHop* last_found = nullptr;
    TaggedTx tagged(w);
    for (i = 0; i < m; ++i) {
        if (ids[i] != last_id) {  // bursts mostly share a next hop
            last_id = ids[i];
            last_found = last_id < kRuleDrop ? hops.get(last_id) : nullptr;
        }
        const NextHop* found = last_found;
        const NextHop* hop = found != nullptr ? found : &kNoHop;
        auto* eth = rte_pktmbuf_mtod(ok[i], rte_ether_hdr*);
        auto* ip = reinterpret_cast<rte_ipv6_hdr*>(eth + 1);
        if (unlikely(sizeof(rte_ipv6_hdr) + __builtin_bswap16(ip->payload_len) > hop->mtu)) {
            output_exception(w, ok[i], in_port, last_id, found, PuntKind::ipv6_routed);
            continue;
        }
        if (unlikely(hop->vlan != 0) && (eth = tagged.push(ok[i], *hop)) == nullptr) continue;
        ipv6_rewrite(eth, ip, *hop);
        TxBatch& tx = w.tx[hop->tx_port];
        tx.pkts[tx.n++] = ok[i];
    }
}

}  // namespace appliance
