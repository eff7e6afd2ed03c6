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
    // First the packets to look up (their keys), then one bulk lookup, then the decisions.
    CtParsed parsed[kBurstSize];
    const CtKey* keys[kBurstSize];
    uint16_t at[kBurstSize];
    uint16_t m = 0;
    for (uint16_t i = 0; i < n; ++i) {
        const NextHop* hop = ids[i] < kRuleDrop ? hops.get(ids[i]) : nullptr;
        if (hop != nullptr && hop->action == HopAction::group) {  // the member the output would take
            ids[i] = group_member(hops, ids[i], pkts[i]);
            hop = ids[i] < kRuleDrop ? hops.get(ids[i]) : nullptr;
        }
        // Only what leaves (now, or once its neighbour resolves) is filtered.
        if (hop == nullptr || (hop->action != HopAction::forward && hop->action != HopAction::resolve))
            continue;
        if (!from_outside && !ct.stateful(hop->iface)) continue;
        // Sessions are kept in the VRF of the stateful interface they cross.
        const uint16_t outside = from_outside ? in_port : hop->iface;
        CtParsed& p = parsed[m];
        p = ct_parse(pkts[i], v6, w.tables.iface_vrf[outside]);
        if (from_outside) {
            // Non-first fragments pass: the first, with the ports, was checked, and
            // without it nothing can be reassembled (as most firewalls that do not
            // reassemble; Linux reassembles before conntrack).
            if (p.kind == CtPacket::fragment) continue;
            if (p.kind == CtPacket::untracked) {
                ids[i] = ct.refused_hop();
                continue;
            }
        } else if (p.kind != CtPacket::flow) {
            continue;  // the inside's ICMP errors, fragments and the untracked go out
        }
        keys[m] = &p.key;
        at[m++] = i;
    }
    if (m == 0) return;
    CtSession* found[kBurstSize];
    CtDir dirs[kBurstSize];
    ct.lookup_bulk(keys, m, found, dirs);
    const uint64_t now = ct_now_ms();
    for (uint16_t j = 0; j < m; ++j) {
        const CtParsed& p = parsed[j];
        const uint16_t i = at[j];
        if (found[j] != nullptr) {
            if (p.kind == CtPacket::flow) ct.touch(*found[j], dirs[j], p.tcp_flags, now);
            continue;  // (an ICMP error about a session: related)
        }
        if (from_outside) {
            ids[i] = ct.refused_hop();
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
