// IPv6 on the worker's burst: the packets input_stage() found to be IPv6 for
// this port go through their checks, a longest-prefix match in the Trie6
// and the rewrite into the same per-port tx batches as IPv4.
//
// Not yet here (ICMPv6 and NDP need the slow path to speak IPv6): hop limit
// exceeded, no route and over-MTU packets are dropped and counted without
// an error back, and a next hop must have its MAC (static or resolved by ARP).
#include "forward6.h"

#include "ipv6_input.h"

namespace appliance {

namespace {
// What a missing next hop reads as: mtu 0, so the one length test catches it.
const NextHop kNoHop{};
}  // namespace

void forward6_burst(WorkerContext& w, uint16_t in_port, rte_mbuf** pkts, uint16_t n) {
    (void)in_port;
    const Trie6& table = w.tables.fib6->table();
    const NextHopTable& hops = *w.tables.hops;
    for (uint16_t i = 0; i < n; ++i) {
        rte_mbuf* m = pkts[i];
        const unsigned verdict = ipv6_input(m);
        if (verdict != kIpv6Pass) {
            w.stats->drops[verdict]++;
            rte_pktmbuf_free(m);
            continue;
        }
        auto* eth = rte_pktmbuf_mtod(m, rte_ether_hdr*);
        auto* ip = reinterpret_cast<rte_ipv6_hdr*>(eth + 1);
        const uint32_t id = table.lookup(ip->dst_addr, kNoRoute);
        const NextHop* found = id < kRuleDrop ? hops.get(id) : nullptr;
        const NextHop* hop = found != nullptr ? found : &kNoHop;
        if (unlikely(sizeof(rte_ipv6_hdr) + __builtin_bswap16(ip->payload_len) > hop->mtu)) {
            DropReason why = id == kNoRoute                        ? DropReason::no_route
                             : found == nullptr                    ? DropReason::nexthop_down
                             : found->action == HopAction::forward ? DropReason::fragmentation_needed
                             : found->action == HopAction::drop    ? DropReason(found->drop_reason)
                                                                   : DropReason::nexthop_down;
            w.stats->count_drop(why);
            rte_pktmbuf_free(m);
            continue;
        }
        ipv6_rewrite(eth, ip, *hop);
        TxBatch& tx = w.tx[hop->port_index];
        tx.pkts[tx.n++] = m;
    }
}

}  // namespace appliance
