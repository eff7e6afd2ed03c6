// ARP (RFC 826) for our addresses: answer requests for an address of the
// port they arrived on (as Linux with arp_ignore=1), learn the asker, take
// replies only for neighbours we asked about (arp_accept=0), let gratuitous
// ARP update neighbours we already know.
#include <arpa/inet.h>
#include <rte_arp.h>

#include "slowpath/slowpath.h"

namespace appliance {

void SlowPath::arp_input(rte_mbuf* m, uint16_t port) {
    stats_.local++;
    const auto* eth = rte_pktmbuf_mtod(m, const rte_ether_hdr*);
    const auto* arp = reinterpret_cast<const rte_arp_hdr*>(eth + 1);
    if (rte_pktmbuf_data_len(m) < sizeof(rte_ether_hdr) + sizeof(rte_arp_hdr) ||
        arp->arp_hardware != RTE_BE16(RTE_ARP_HRD_ETHER) ||
        arp->arp_protocol != RTE_BE16(RTE_ETHER_TYPE_IPV4) || arp->arp_hlen != RTE_ETHER_ADDR_LEN ||
        arp->arp_plen != 4) {
        stats_.local--;
        drop(m, DropReason::malformed);
        return;
    }
    const uint16_t op = ntohs(arp->arp_opcode);
    const uint32_t sender = ntohl(arp->arp_data.arp_sip);
    const uint32_t target = ntohl(arp->arp_data.arp_tip);
    const rte_ether_addr sender_mac = arp->arp_data.arp_sha;
    // A VRRP master answers for its virtual addresses (and an owner for its own) from the virtual MAC.
    const rte_ether_addr* own = vrrp_answers(port, IpAddr::v4(target));
    const bool for_us = own != nullptr || address_on(port, target).has_value();
    rte_pktmbuf_free(m);

    if (sender == target || (op == RTE_ARP_OP_REQUEST && sender == 0)) {
        // Gratuitous ARP or a probe (RFC 5227): update what we know, answer nothing.
        if (sender != 0) {
            Neighbor* n = neigh_find(port, IpAddr::v4(sender));
            if (n != nullptr && n->state != NeighState::permanent &&
                !rte_is_same_ether_addr(&n->mac, &sender_mac))
                neigh_update(*n, sender_mac, NeighState::stale);
        }
        if (sender == 0 && for_us)  // someone checks whether our address is free: defend it
            arp_send(port, RTE_ARP_OP_REPLY, sender_mac, 0, target, own);
        stats_.arp_ignored++;
        return;
    }
    if (!for_us || rte_is_multicast_ether_addr(&sender_mac)) {
        stats_.arp_ignored++;
        return;
    }
    if (op == RTE_ARP_OP_REQUEST) {
        stats_.arp_requests_in++;
        // Linux keeps the asker as STALE: usable at once, confirmed later.
        neigh_learn(port, IpAddr::v4(sender), sender_mac, NeighState::stale);
        arp_send(port, RTE_ARP_OP_REPLY, sender_mac, sender, target, own);
        return;
    }
    if (op == RTE_ARP_OP_REPLY) {
        Neighbor* n = neigh_find(port, IpAddr::v4(sender));
        if (n != nullptr && n->state != NeighState::permanent) {
            stats_.arp_replies_in++;
            neigh_update(*n, sender_mac, NeighState::reachable);
            return;
        }
    }
    stats_.arp_ignored++;
}

// op REQUEST: who has `target`, tell `sender` (dst_mac broadcast, or the
// neighbour's MAC for a probe). op REPLY: `sender` is at our MAC, to
// (dst_mac, target).
void SlowPath::arp_send(uint16_t port, uint16_t op, const rte_ether_addr& dst_mac,
                        uint32_t target, uint32_t sender, const rte_ether_addr* own) {
    rte_mbuf* m = alloc(port);
    if (m == nullptr) {
        stats_.generated_dropped++;
        return;
    }
    auto* eth = reinterpret_cast<rte_ether_hdr*>(
        rte_pktmbuf_append(m, sizeof(rte_ether_hdr) + sizeof(rte_arp_hdr)));
    eth->dst_addr = dst_mac;
    eth->src_addr = own != nullptr ? *own : ports_[port].mac;
    eth->ether_type = RTE_BE16(RTE_ETHER_TYPE_ARP);
    auto* arp = reinterpret_cast<rte_arp_hdr*>(eth + 1);
    arp->arp_hardware = RTE_BE16(RTE_ARP_HRD_ETHER);
    arp->arp_protocol = RTE_BE16(RTE_ETHER_TYPE_IPV4);
    arp->arp_hlen = RTE_ETHER_ADDR_LEN;
    arp->arp_plen = 4;
    arp->arp_opcode = htons(op);
    arp->arp_data.arp_sha = eth->src_addr;
    arp->arp_data.arp_sip = htonl(sender);
    // A request's target MAC is unknown: zero, as Linux sends it.
    arp->arp_data.arp_tha = op == RTE_ARP_OP_REPLY ? dst_mac : rte_ether_addr{};
    arp->arp_data.arp_tip = htonl(target);
    (op == RTE_ARP_OP_REPLY ? stats_.arp_replies_out : stats_.arp_requests_out)++;
    send(m, port, true);
}

void SlowPath::gratuitous_arp(uint16_t port, uint32_t ip) {
    arp_send(port, RTE_ARP_OP_REQUEST, rte_ether_addr{{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}}, ip,
             ip);
}

}  // namespace appliance
