#include "trace/trace_hooks.h"

#include <cstring>

#include <rte_ether.h>
#include <rte_ip.h>

namespace appliance {

void trace_note(WorkerContext& w, const rte_mbuf* m, TraceStep step, uint8_t code, uint32_t a,
                uint32_t b, const void* data, unsigned len) {
    const uint32_t id = trace_id(m);
    if (id != 0) w.trace->note(w.index, id, step, code, a, b, data, len);
}

void trace_steps(WorkerContext& w, TraceStep step, rte_mbuf* const* pkts, uint16_t n, uint8_t code) {
    for (uint16_t i = 0; i < n; ++i) trace_note(w, pkts[i], step, code);
}

namespace {
// A next hop's action, drop reason, interface (little-endian) and the MAC it sends to.
void hop_bytes(const WorkerContext& w, uint32_t id, uint8_t out[10]) {
    std::memset(out, 0, 10);
    const NextHop* hop = id < kRuleDrop ? w.tables.hops->get(id) : nullptr;
    if (hop == nullptr) {
        out[0] = 0xff;  // none
        return;
    }
    out[0] = uint8_t(hop->action);
    out[1] = hop->drop_reason;
    out[2] = uint8_t(hop->iface);
    out[3] = uint8_t(hop->iface >> 8);
    std::memcpy(out + 4, &hop->dst, 6);
}

void note_hop(WorkerContext& w, const rte_mbuf* m, TraceStep step, uint8_t code, uint32_t id, uint32_t b) {
    uint8_t hop[10];
    hop_bytes(w, id, hop);
    trace_note(w, m, step, code, id, b, hop, sizeof hop);
}
}  // namespace

void trace_hop(WorkerContext& w, const rte_mbuf* m, TraceStep step, uint32_t id) {
    if (trace_id(m) != 0) note_hop(w, m, step, 0, id, 0);
}

void trace_ids(WorkerContext& w, TraceStep step, rte_mbuf* const* pkts, uint16_t n, const uint32_t* ids,
               uint8_t code, uint32_t b) {
    for (uint16_t i = 0; i < n; ++i)
        if (trace_id(pkts[i]) != 0) note_hop(w, pkts[i], step, code, ids[i], b);
}

void trace_tuple_of(const rte_mbuf* m, uint8_t out[12]) {
    std::memset(out, 0, 12);
    const auto* eth = rte_pktmbuf_mtod(m, const rte_ether_hdr*);
    const auto* ip = reinterpret_cast<const rte_ipv4_hdr*>(eth + 1);
    if (eth->ether_type != RTE_BE16(RTE_ETHER_TYPE_IPV4) || rte_pktmbuf_data_len(m) < 14 + 20) return;
    std::memcpy(out, &ip->src_addr, 8);
    const uint32_t l4 = 14 + 4u * (ip->version_ihl & 0xf);
    const bool ports = ip->next_proto_id == 6 || ip->next_proto_id == 17 || ip->next_proto_id == 1;
    if (ports && rte_pktmbuf_data_len(m) >= l4 + 4)  // (ICMP: type/code, then the checksum)
        std::memcpy(out + 8, rte_pktmbuf_mtod_offset(m, const uint8_t*, l4), 4);
}

void trace_tuples(WorkerContext& w, TraceStep step, rte_mbuf* const* pkts, uint16_t n) {
    for (uint16_t i = 0; i < n; ++i) {
        if (trace_id(pkts[i]) == 0) continue;
        uint8_t tuple[12];
        trace_tuple_of(pkts[i], tuple);
        trace_note(w, pkts[i], step, 0, 0, 0, tuple, sizeof tuple);
    }
}

void trace_output(WorkerContext& w, const rte_mbuf* m, uint16_t iface, bool from_slow_path) {
    const auto* eth = rte_pktmbuf_mtod(m, const uint8_t*);
    const bool tagged = eth[12] == 0x81 && eth[13] == 0x00 && rte_pktmbuf_data_len(m) >= 18;
    const uint32_t type = uint32_t(eth[tagged ? 16 : 12]) << 8 | eth[tagged ? 17 : 13];
    trace_note(w, m, TraceStep::output, from_slow_path, iface, type, eth, 16);
}

uint16_t trace_tx_burst(WorkerContext& w, TxBatch& t, uint16_t iface) {
    uint32_t ids[kBurstSize];
    for (uint16_t i = 0; i < t.n; ++i) {
        ids[i] = trace_id(t.pkts[i]);
        if (ids[i] != 0) trace_output(w, t.pkts[i], iface, false);
    }
    const uint16_t sent = rte_eth_tx_burst(t.port_id, w.tx_queue, t.pkts, t.n);
    for (uint16_t i = 0; i < sent; ++i)  // (the mbufs are the driver's now: their ids were kept)
        if (ids[i] != 0) w.trace->note(w.index, ids[i], TraceStep::tx, 1);
    return sent;
}

}  // namespace appliance
