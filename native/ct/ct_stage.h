// Connection tracking, NAT44 and stateful filtering over a burst, in two
// steps around the route lookup, as Linux's prerouting and postrouting hooks.
//
// Before the lookup (nat_prerouting, IPv4 from an interface with NAT): the
// packet's session is looked up; one found is translated (a reply to a
// masqueraded connection gets its inside destination back), a packet to a
// port forward or 1:1 address starts one (destination NAT). The lookup then
// routes the translated packet.
//
// After it (ct_stage, with the ACLs done): what leaves by an interface with
// source NAT starts or refreshes a session, translated to the interface's
// address or its pool; an inside host reaching a port forward by its public
// address is translated both ways (hairpin). Stateful filtering, as
// nftables' `iifname wan ct state established,related accept; drop`: what
// comes in on a stateful interface is forwarded only as part of a session or
// as an ICMP error quoting one ("related", translated back, RFC 5508), else
// dropped (`not_established`). A full table refuses new sessions
// (`conntrack_full`), a public address out of ports new mappings
// (`nat_no_port`); existing sessions go on. Packets for the router itself
// are not filtered: they are the slow path's (Linux's input chain).
#pragma once

#include <cstdint>

#include "core/worker.h"
#include "ct/ct_early.h"
#include "ct/ct_table.h"

namespace appliance {

// One load a burst for a router without stateful or NAT interfaces.
inline bool ct_applies(const WorkerContext& w) { return w.tables.ct != nullptr && w.tables.ct->enabled(); }

inline bool nat_prerouting_applies(const WorkerContext& w, uint16_t in_port) {
    return ct_applies(w) && w.tables.ct->nat() && w.tables.nat->rules().outside[in_port];
}

// `dst_host`: the burst's destinations for the lookup, updated where translated.
void nat_prerouting(WorkerContext& w, uint16_t in_port, rte_mbuf* const* pkts, uint16_t n,
                    uint32_t* dst_host, CtEarly& early);

// `early`: prerouting's findings, or nullptr (it did not run: IPv6, or not a NAT interface).
void ct_stage(WorkerContext& w, uint16_t in_port, bool v6, rte_mbuf* const* pkts, uint16_t n,
              uint32_t* ids, const CtEarly* early);

// The trace's conntrack line for the traced packets among pkts[0..n), after
// ct_stage: the session each is part of now (its state, which direction,
// whether translated) and its addresses as they leave (trace/trace.h).
void ct_trace(WorkerContext& w, uint16_t in_port, bool v6, rte_mbuf* const* pkts, uint16_t n,
              const uint32_t* ids);

}  // namespace appliance
