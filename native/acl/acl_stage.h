// The ACL stages of a worker's burst. `in` runs on the packets of one input
// port after the route lookup and exact-match rules and overrides their
// decision (deny, reject, redirect are final; permit keeps the route's);
// `out` runs on the packets the route sends out of ports with an ACL bound
// out. A port without ACLs never gets here: forward_burst tests its slots.
#pragma once

#include <cstdint>

#include "acl/acl_table.h"
#include "acl/classifier.h"
#include "core/worker.h"

namespace appliance {

// Classifies pkts[0..n) (all IPv4 or all IPv6) and overrides ids[i] where
// the matching entry (or default) does not permit; counts every packet.
void acl_classify(const WorkerContext& w, const AclClassifier& acl, bool v6, rte_mbuf* const* pkts,
                  uint16_t n, uint32_t* ids);

// The out direction: each packet's egress port from its next hop (an ECMP
// group's member is chosen here, as the output would), then one classify
// per port with an ACL bound out.
void acl_out_stage(WorkerContext& w, bool v6, rte_mbuf* const* pkts, uint16_t n, uint32_t* ids);

// The trace's ACL line for the traced packets among pkts[0..n): which entry
// (or the default) of the ACL bound to `iface` matched (trace/trace.h).
void acl_trace(WorkerContext& w, const AclClassifier& acl, bool out, uint16_t iface, bool v6,
               rte_mbuf* const* pkts, uint16_t n);

}  // namespace appliance

namespace appliance {

// Whether the burst from `in_port` meets an ACL (two loads; false for a
// router without ACLs, which then pays nothing more).
inline bool acl_applies(const WorkerContext& w, uint16_t in_port) {
    return w.tables.acls->in(in_port) != nullptr || w.tables.acls->any_out();
}

// Both directions over a burst whose route lookup is done.
inline void acl_stages(WorkerContext& w, uint16_t in_port, bool v6, rte_mbuf* const* pkts,
                       uint16_t n, uint32_t* ids) {
    if (const AclClassifier* in = w.tables.acls->in(in_port)) {
        acl_classify(w, *in, v6, pkts, n, ids);
        if (unlikely(w.tracing)) acl_trace(w, *in, false, in_port, v6, pkts, n);
    }
    if (w.tables.acls->any_out()) acl_out_stage(w, v6, pkts, n, ids);
}

// A packet the input checks hand to the slow path whole (IPv4 with options):
// the input ACL still decides. True when it was denied or rejected here
// (dropped, or punted for its ICMP error); false: punt it as before.
bool acl_refuses_punt(WorkerContext& w, rte_mbuf* m, uint16_t in_port);

}  // namespace appliance
