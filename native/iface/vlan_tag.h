// Taking an 802.1Q tag off a received frame and putting one on a frame to
// send, in software (a NIC's VLAN strip offload does the first for us where
// it has one). The tag sits between the source MAC and the EtherType, so
// both move the 12 bytes of MACs by 4.
#pragma once

#include <cstring>

#include <rte_byteorder.h>
#include <rte_ether.h>
#include <rte_mbuf.h>

namespace appliance {

// The two MACs (12 bytes) moved: both loaded before either is
// stored, so the regions may overlap (a memmove of a constant 12 bytes is a
// call into libc here: ~5 cycles a packet).
inline void move_macs(void* from, void* to) {
    uint64_t head;
    uint32_t tail;
    std::memcpy(&head, from, 8);
    std::memcpy(&tail, static_cast<char*>(from) + 8, 4);
    std::memcpy(to, &head, 8);
    std::memcpy(static_cast<char*>(to) + 8, &tail, 4);
}

inline bool vlan_tagged(const rte_ether_hdr* eth) {
    return eth->ether_type == RTE_BE16(RTE_ETHER_TYPE_VLAN);
}

// The frame's VLAN id, and the tag gone. The caller checked the EtherType
// and that the frame holds the tag.
inline uint16_t vlan_strip(rte_mbuf* m) {
    auto* eth = rte_pktmbuf_mtod(m, rte_ether_hdr*);
    const uint16_t tci = rte_be_to_cpu_16(reinterpret_cast<const rte_vlan_hdr*>(eth + 1)->vlan_tci);
    move_macs(eth, reinterpret_cast<char*>(eth) + sizeof(rte_vlan_hdr));
    rte_pktmbuf_adj(m, sizeof(rte_vlan_hdr));
    return tci & 0x0fff;
}

// Room for a tag in front of a frame about to be rewritten: the new Ethernet
// header, tag filled in (VLAN `vlan`, priority 0, the old EtherType now the
// inner one), MACs left for the caller to write. No bytes move: the fast
// path's rewrite writes both MACs anyway (moving the ones it had just written
// would stall on store forwarding, ~12 cycles). nullptr: no headroom.
inline rte_ether_hdr* vlan_push_for_rewrite(rte_mbuf* m, uint16_t vlan) {
    auto* eth = reinterpret_cast<rte_ether_hdr*>(rte_pktmbuf_prepend(m, sizeof(rte_vlan_hdr)));
    if (eth == nullptr) return nullptr;
    eth->ether_type = RTE_BE16(RTE_ETHER_TYPE_VLAN);
    reinterpret_cast<rte_vlan_hdr*>(eth + 1)->vlan_tci = rte_cpu_to_be_16(vlan);
    return eth;
}

// Tags the frame with VLAN `vlan`, priority 0 (what Linux's VLAN device sends
// for routed packets: its egress map is empty). False when there is no room
// in front of the frame (mbufs have 128 bytes).
inline bool vlan_push(rte_mbuf* m, uint16_t vlan) {
    auto* eth = reinterpret_cast<rte_ether_hdr*>(rte_pktmbuf_prepend(m, sizeof(rte_vlan_hdr)));
    if (eth == nullptr) return false;
    move_macs(reinterpret_cast<char*>(eth) + sizeof(rte_vlan_hdr), eth);
    // The old EtherType now follows the tag: it is the tag's inner type.
    eth->ether_type = RTE_BE16(RTE_ETHER_TYPE_VLAN);
    reinterpret_cast<rte_vlan_hdr*>(eth + 1)->vlan_tci = rte_cpu_to_be_16(vlan);
    return true;
}

}  // namespace appliance
