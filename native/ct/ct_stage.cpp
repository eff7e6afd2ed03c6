#include "ct/ct_stage.h"

#include "nexthop/ecmp.h"

namespace appliance {

namespace {
CtParsed ct_parse(const rte_mbuf* m, bool v6, uint16_t vrf) {
    const uint32_t eth = sizeof(rte_ether_hdr);  // (a sub-interface's tag is off by now)
    const uint8_t* ip = rte_pktmbuf_mtod_offset(m, const uint8_t*, eth);
    const uint32_t len = rte_pktmbuf_data_len(m) > eth ? rte_pktmbuf_data_len(m) - eth : 0;
    return v6 ? ct_parse6(ip, len, vrf) : ct_parse4(ip, len, vrf);
}
}  // namespace

void ct_stage(WorkerContext& w, uint16_t in_port, bool v6, rte_mbuf* const* pkts, uint16_t n,
              uint32_t* ids) {
    CtTable& ct = *w.tables.ct;
    const NextHopTable& hops = *w.tables.hops;
    const bool from_outside = ct.stateful(in_port);
    const uint64_t now = ct_now_ms();
    for (uint16_t i = 0; i < n; ++i) {
        const NextHop* hop = ids[i] < kRuleDrop ? hops.get(ids[i]) : nullptr;
        if (hop != nullptr && hop->action == HopAction::group) {  // the member the output would take
            ids[i] = group_member(hops, ids[i], pkts[i]);
            hop = ids[i] < kRuleDrop ? hops.get(ids[i]) : nullptr;
        }
        // Only what leaves (now, or once its neighbour resolves) is filtered.
        if (hop == nullptr || (hop->action != HopAction::forward && hop->action != HopAction::resolve))
            continue;
        const bool to_outside = ct.stateful(hop->iface);
        if (!from_outside && !to_outside) continue;
        // Sessions are kept in the VRF of the stateful interface they cross.
        const uint16_t outside = from_outside ? in_port : hop->iface;
        const CtParsed p = ct_parse(pkts[i], v6, w.tables.iface_vrf[outside]);
        CtDir dir;
        if (from_outside) {
            CtSession* s = p.kind == CtPacket::untracked ? nullptr : ct.lookup(p.key, &dir);
            if (s == nullptr) {
                ids[i] = ct.refused_hop();
            } else if (p.kind == CtPacket::flow) {
                ct.touch(*s, dir, p.tcp_flags, now);
            }
            continue;
        }
        if (p.kind != CtPacket::flow) continue;  // the inside's ICMP errors, and the untracked, go out
        if (CtSession* s = ct.lookup(p.key, &dir)) {
            ct.touch(*s, dir, p.tcp_flags, now);
        } else if (p.key.echo() && p.key.echo_reply) {
            // An echo reply starts nothing (Linux: invalid); it goes out untracked.
        } else if (ct.create(p.key, p.tcp_flags, now) != nullptr) {
            w.stats->ct_created++;
        } else {
            ids[i] = ct.full_hop();
        }
    }
}

}  // namespace appliance
