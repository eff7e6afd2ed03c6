// The burst pipeline: input checks -> exact-match rules -> LPM -> rewrite -> tx
// buffer. Each stage runs over the whole burst before the next one starts, so
// lookups go in bulk and headers are prefetched ahead of use.
#include <rte_hash.h>
#include <rte_lpm.h>
#include <rte_prefetch.h>

#include "ipv4_input.h"
#include "ipv4_rewrite.h"
#include "worker.h"

namespace appliance {

namespace {

constexpr unsigned kPrefetchOffset = 4;
constexpr uint32_t kNoRoute = 0xffffffffu;   // LPM miss (next hops are 24 bits)
constexpr uint32_t kRuleDrop = 0xfffffffeu;  // an exact-match rule said drop

struct Burst {
    rte_mbuf* pkts[kBurstSize];
    rte_ipv4_hdr* ip[kBurstSize];
    uint32_t dst[kBurstSize];  // host byte order, for the LPM
    uint32_t hop[kBurstSize];
    uint16_t n = 0;
};

// Stage 1: keeps packets that pass RFC 1812 checks; drops and counts the rest.
void input_stage(WorkerContext& w, rte_mbuf** pkts, uint16_t n, Burst& b) {
    for (uint16_t i = 0; i < n && i < kPrefetchOffset; ++i)
        rte_prefetch0(rte_pktmbuf_mtod(pkts[i], void*));
    for (uint16_t i = 0; i < n; ++i) {
        if (i + kPrefetchOffset < n)
            rte_prefetch0(rte_pktmbuf_mtod(pkts[i + kPrefetchOffset], void*));
        rte_ipv4_hdr* ip;
        unsigned verdict = ipv4_input(pkts[i], w.tables.verify_checksum, &ip);
        if (verdict != kIpv4Pass) {
            w.stats->drops[verdict]++;
            rte_pktmbuf_free(pkts[i]);
            continue;
        }
        b.pkts[b.n] = pkts[i];
        b.ip[b.n] = ip;
        b.dst[b.n] = rte_be_to_cpu_32(ip->dst_addr);
        b.n++;
    }
}

// Stage 2: longest-prefix match, four at a time with SSE like l3fwd.
void lpm_stage(const rte_lpm* lpm, Burst& b) {
    uint16_t i = 0;
    for (; i + 4 <= b.n; i += 4) {
        xmm_t ips = _mm_loadu_si128(reinterpret_cast<const __m128i*>(&b.dst[i]));
        rte_lpm_lookupx4(lpm, ips, &b.hop[i], kNoRoute);
    }
    for (; i < b.n; ++i)
        if (rte_lpm_lookup(lpm, b.dst[i], &b.hop[i]) != 0) b.hop[i] = kNoRoute;
}

// Stage 3: exact-match rules override the LPM result for their 5-tuple.
void rule_stage(const FlowTable& flows, Burst& b) {
    FlowKey keys[kBurstSize];
    const void* key_ptrs[kBurstSize];
    for (uint16_t i = 0; i < b.n; ++i) {
        const rte_ipv4_hdr* ip = b.ip[i];
        FlowKey& k = keys[i];
        k = FlowKey{ip->src_addr, ip->dst_addr, 0, 0, ip->next_proto_id, {0, 0, 0}};
        // Ports only for first fragments (or unfragmented) of TCP/UDP that carry them.
        bool first_fragment = (ip->fragment_offset & RTE_BE16(RTE_IPV4_HDR_OFFSET_MASK)) == 0;
        const uint32_t ihl = uint32_t(ip->version_ihl & 0x0f) * 4;
        if (first_fragment && (k.proto == IPPROTO_TCP || k.proto == IPPROTO_UDP) &&
            rte_be_to_cpu_16(ip->total_length) >= ihl + 4 &&
            rte_pktmbuf_data_len(b.pkts[i]) >= sizeof(rte_ether_hdr) + ihl + 4) {
            const auto* l4 = reinterpret_cast<const uint16_t*>(
                reinterpret_cast<const uint8_t*>(ip) + ihl);
            k.src_port = l4[0];
            k.dst_port = l4[1];
        }
        key_ptrs[i] = &k;
    }
    uint64_t hits = 0;
    void* data[kBurstSize];
    if (rte_hash_lookup_bulk_data(flows.hash(), key_ptrs, b.n, &hits, data) <= 0) return;
    for (uint16_t i = 0; i < b.n; ++i) {
        if (!(hits & (1ull << i))) continue;
        auto packed = reinterpret_cast<uintptr_t>(data[i]);
        b.hop[i] = rule_action(packed) == RuleAction::drop ? kRuleDrop : rule_nexthop(packed);
    }
}

// Stage 4: rewrite and buffer per output port; unroutable packets counted.
void output_stage(WorkerContext& w, Burst& b) {
    const NextHopTable& hops = *w.tables.hops;
    for (uint16_t i = 0; i < b.n; ++i) {
        rte_mbuf* m = b.pkts[i];
        uint32_t id = b.hop[i];
        const NextHop* hop = nullptr;
        if (id == kNoRoute || id == kRuleDrop || (hop = hops.get(id)) == nullptr) {
            DropReason why = id == kNoRoute    ? DropReason::no_route
                             : id == kRuleDrop ? DropReason::rule_drop
                                               : DropReason::nexthop_down;
            w.stats->count_drop(why);
            rte_pktmbuf_free(m);
            continue;
        }
        ipv4_rewrite(rte_pktmbuf_mtod(m, rte_ether_hdr*), b.ip[i], *hop);
        w.stats->tx_packets += rte_eth_tx_buffer(hop->port_id, w.tx_queue,
                                                 w.tx_buffers[hop->port_index], m);
    }
}

}  // namespace

void forward_burst(WorkerContext& w, rte_mbuf** pkts, uint16_t n) {
    Burst b;
    input_stage(w, pkts, n, b);
    if (b.n == 0) return;
    lpm_stage(w.tables.fib->lpm(), b);
    if (w.tables.flows->active() != 0) rule_stage(*w.tables.flows, b);
    output_stage(w, b);
}

void flush_tx(WorkerContext& w) {
    for (size_t p = 0; p < w.tx_buffers.size(); ++p)
        if (w.tx_buffers[p]->length != 0)
            w.stats->tx_packets += rte_eth_tx_buffer_flush(w.tx_port_ids[p], w.tx_queue,
                                                           w.tx_buffers[p]);
}

}  // namespace appliance
