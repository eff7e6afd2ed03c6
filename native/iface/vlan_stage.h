// The fast path's two VLAN steps: on input (ports with sub-interfaces only),
// each frame's interface from its tag; on output, the tag of the next hop's
// sub-interface.
#pragma once

#include "core/exceptions.h"
#include "core/worker.h"
#include "iface/vlan_tag.h"

namespace appliance {

// The first stage on a port with sub-interfaces: each frame's interface from
// its tag (none, or a priority tag: the port's own), the tag taken off, and
// the burst split by interface so that every later stage sees one interface
// (its ACLs, its addresses for the slow path). Frames of VLANs the port has
// no sub-interface for are dropped: unknown_vlan.
void vlan_stage(WorkerContext& w, const RxQueue& q, rte_mbuf** pkts, uint16_t n, StageClock& clock);

// Tags what a burst sends out of sub-interfaces (before the rewrite, which
// writes the MACs: vlan_push_for_rewrite) and counts it there, in
// registers: flushed when the interface changes and at the end (an increment
// in memory per packet chains on store forwarding, ~5 cycles a counter).
class TaggedTx {
public:
    explicit TaggedTx(WorkerContext& w) : w_(w) {}
    ~TaggedTx() { flush(); }
    TaggedTx(const TaggedTx&) = delete;
    TaggedTx& operator=(const TaggedTx&) = delete;

    // The frame's new Ethernet header, for the rewrite. nullptr: it could
    // not be tagged, and it is dropped and counted.
    rte_ether_hdr* push(rte_mbuf* m, const NextHop& hop) {
        rte_ether_hdr* eth = vlan_push_for_rewrite(m, hop.vlan);
        if (unlikely(eth == nullptr)) {
            drop_packet(w_, m, DropReason::malformed, hop.iface);
            return nullptr;
        }
        if (hop.iface != iface_) {
            flush();
            iface_ = hop.iface;
        }
        packets_++;
        bytes_ += rte_pktmbuf_pkt_len(m);
        return eth;
    }

private:
    void flush() {
        if (packets_ == 0) return;
        IfaceCounters& c = w_.ifaces[iface_];
        c.tx_packets += packets_;
        c.tx_bytes += bytes_;
        packets_ = bytes_ = 0;
    }

    WorkerContext& w_;
    uint16_t iface_ = 0;
    uint32_t packets_ = 0;
    uint64_t bytes_ = 0;
};

}  // namespace appliance
