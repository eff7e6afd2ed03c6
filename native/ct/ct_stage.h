// Stateful filtering over a burst whose route lookup (and ACLs) is done, as
// nftables' `iifname wan ct state established,related accept; drop` on a
// router's forward chain: what leaves by an interface marked stateful starts
// or refreshes a session; what comes in on one is forwarded only as part of
// a session, or as an ICMP error quoting one ("related"), else dropped
// (`not_established`). A full table refuses the new session (`conntrack_full`);
// existing ones go on. Packets for the router itself are not filtered: they
// are the slow path's (Linux's input chain, not forward).
#pragma once

#include <cstdint>

#include "core/worker.h"
#include "ct/ct_table.h"

namespace appliance {

// One load a burst for a router without stateful interfaces.
inline bool ct_applies(const WorkerContext& w) { return w.tables.ct != nullptr && w.tables.ct->enabled(); }

void ct_stage(WorkerContext& w, uint16_t in_port, bool v6, rte_mbuf* const* pkts, uint16_t n,
              uint32_t* ids);

}  // namespace appliance
