#include "ct/ct_stage.h"
#include "trace/trace_hooks.h"

namespace appliance {

namespace {
// The session of a packet as it is now: by its own key, or (translated) by
// the reverse of it, which is the other direction's key.
const CtSession* session_of(const CtTable& ct, rte_mbuf* m, bool v6, uint16_t vrf, CtDir* dir,
                            bool* translated) {
    if (rte_pktmbuf_data_len(m) <= sizeof(rte_ether_hdr)) return nullptr;
    const auto* ip = rte_pktmbuf_mtod_offset(m, const uint8_t*, sizeof(rte_ether_hdr));
    const uint32_t room = rte_pktmbuf_data_len(m) - uint32_t(sizeof(rte_ether_hdr));
    CtParsed p;
    if (v6) ct_parse6(ip, room, vrf, p);
    else ct_parse4_any(ip, room, vrf, p);
    if (p.kind != CtPacket::flow) return nullptr;
    *translated = false;
    if (const CtSession* s = ct.lookup(p.key, dir)) return s;
    const CtSession* s = ct.lookup(p.key.reversed(), dir);
    if (s == nullptr) return nullptr;
    *dir = *dir == CtDir::original ? CtDir::reply : CtDir::original;
    *translated = true;
    return s;
}
}  // namespace

void ct_trace(WorkerContext& w, uint16_t in_port, bool v6, rte_mbuf* const* pkts, uint16_t n,
              const uint32_t* ids) {
    const CtTable& ct = *w.tables.ct;
    for (uint16_t i = 0; i < n; ++i) {
        if (trace_id(pkts[i]) == 0) continue;
        // Sessions are kept in the VRF of the interface a packet comes in or leaves by.
        const NextHop* hop = ids[i] < kRuleDrop ? w.tables.hops->get(ids[i]) : nullptr;
        CtDir dir = CtDir::original;
        bool translated = false;
        const CtSession* s = session_of(ct, pkts[i], v6, w.tables.iface_vrf[in_port], &dir, &translated);
        if (s == nullptr && hop != nullptr && hop->iface != in_port)
            s = session_of(ct, pkts[i], v6, w.tables.iface_vrf[hop->iface], &dir, &translated);
        const uint8_t state = s != nullptr ? s->state.load(std::memory_order_relaxed) : kTraceNoSession;
        uint8_t tuple[12];
        trace_tuple_of(pkts[i], tuple);
        trace_note(w, pkts[i], TraceStep::conntrack, state, translated, uint32_t(dir), tuple, sizeof tuple);
    }
}

}  // namespace appliance
