// The stages' side of the trace (trace/trace.h): each call runs only in a
// burst with WorkerContext::tracing set, and writes an event for the
// traced packets it is given.
#pragma once

#include <cstring>

#include <rte_ether.h>
#include <rte_ip.h>

#include "core/worker.h"

namespace appliance {

inline void trace_note(WorkerContext& w, const rte_mbuf* m, TraceStep step, uint8_t code,
                       uint32_t a = 0, uint32_t b = 0, const void* data = nullptr, unsigned len = 0) {
    const uint32_t id = trace_id(m);
    if (id != 0) w.trace->note(w.index, id, step, code, a, b, data, len);
}

// An IPv4 packet's addresses and ports, as NAT left them (zeros: not IPv4).
struct TraceTuple {
    uint8_t bytes[12] = {};  // source, destination, source port, destination port (network order)
    explicit TraceTuple(const rte_mbuf* m) {
        const auto* eth = rte_pktmbuf_mtod(m, const rte_ether_hdr*);
        const auto* ip = reinterpret_cast<const rte_ipv4_hdr*>(eth + 1);
        if (eth->ether_type != RTE_BE16(RTE_ETHER_TYPE_IPV4) || rte_pktmbuf_data_len(m) < 14 + 20) return;
        std::memcpy(bytes, &ip->src_addr, 8);
        const uint32_t l4 = 14 + 4u * (ip->version_ihl & 0xf);
        const bool ports = ip->next_proto_id == 6 || ip->next_proto_id == 17 || ip->next_proto_id == 1;
        if (ports && rte_pktmbuf_data_len(m) >= l4 + 4)  // (ICMP: type/code, then the checksum)
            std::memcpy(bytes + 8, rte_pktmbuf_mtod_offset(m, const uint8_t*, l4), 4);
    }
};

// A next hop as the worker found it (its table may change after): action,
// drop reason, interface (little-endian), MAC it is sent to.
struct TraceHop {
    uint8_t bytes[10] = {};
    TraceHop(const WorkerContext& w, uint32_t id) {
        const NextHop* hop = id < kRuleDrop ? w.tables.hops->get(id) : nullptr;
        if (hop == nullptr) {
            bytes[0] = 0xff;  // none
            return;
        }
        bytes[0] = uint8_t(hop->action);
        bytes[1] = hop->drop_reason;
        bytes[2] = uint8_t(hop->iface);
        bytes[3] = uint8_t(hop->iface >> 8);
        std::memcpy(bytes + 4, &hop->dst, 6);
    }
};

inline void trace_hop(WorkerContext& w, const rte_mbuf* m, TraceStep step, uint8_t code, uint32_t id,
                      uint32_t b = 0) {
    if (trace_id(m) == 0) return;
    const TraceHop hop(w, id);
    trace_note(w, m, step, code, id, b, hop.bytes, sizeof hop.bytes);
}

// A next hop id per packet (the lookup's, or what replaced it).
inline void trace_ids(WorkerContext& w, TraceStep step, rte_mbuf* const* pkts, uint16_t n,
                      const uint32_t* ids, uint8_t code, uint32_t b) {
    for (uint16_t i = 0; i < n; ++i) trace_hop(w, pkts[i], step, code, ids[i], b);
}

// Only where `ids` differs from `before` (an exact-match rule took the packet).
inline void trace_changed_ids(WorkerContext& w, TraceStep step, rte_mbuf* const* pkts, uint16_t n,
                              const uint32_t* before, const uint32_t* ids) {
    for (uint16_t i = 0; i < n; ++i)
        if (ids[i] != before[i]) trace_hop(w, pkts[i], step, 0, ids[i]);
}

inline void trace_tuples(WorkerContext& w, TraceStep step, rte_mbuf* const* pkts, uint16_t n) {
    for (uint16_t i = 0; i < n; ++i)
        if (trace_id(pkts[i]) != 0) {
            const TraceTuple t(pkts[i]);
            trace_note(w, pkts[i], step, 0, 0, 0, t.bytes, sizeof t.bytes);
        }
}

// A packet about to be sent on interface `iface`: its Ethernet header (and
// tag) as it leaves, and the EtherType after the tag.
inline void trace_output(WorkerContext& w, const rte_mbuf* m, uint16_t iface, bool from_slow_path) {
    const auto* eth = rte_pktmbuf_mtod(m, const uint8_t*);
    const bool tagged = eth[12] == 0x81 && eth[13] == 0x00 && rte_pktmbuf_data_len(m) >= 18;
    const uint32_t type = uint32_t(eth[tagged ? 16 : 12]) << 8 | eth[tagged ? 17 : 13];
    trace_note(w, m, TraceStep::output, from_slow_path, iface, type, eth, 16);
}

}  // namespace appliance

namespace appliance {

// A tx batch's traced packets: their output before the send, their fate after
// (what the queue refused is a drop, traced there).
struct TracedBatch {
    uint32_t ids[kBurstSize];
    uint16_t n = 0;
    void before(WorkerContext& w, rte_mbuf* const* pkts, uint16_t count, uint16_t iface) {
        n = count;
        for (uint16_t i = 0; i < count; ++i) {
            ids[i] = trace_id(pkts[i]);
            if (ids[i] != 0) trace_output(w, pkts[i], iface, false);
        }
    }
    void after(WorkerContext& w, uint16_t sent) const {
        for (uint16_t i = 0; i < sent && i < n; ++i)
            if (ids[i] != 0) w.trace->note(w.index, ids[i], TraceStep::tx, 1);
    }
};

}  // namespace appliance
