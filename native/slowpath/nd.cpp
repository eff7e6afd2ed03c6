// Neighbour discovery (RFC 4861) for our IPv6 addresses: answer
// solicitations for an address of the port they came in on (and defend it
// against another node's duplicate address detection), learn the asker,
// take advertisements for neighbours we know with the rules of 7.2.5, and
// solicit to resolve and to probe. Router advertisements are not sent.
#include <cstring>

#include "slowpath/icmp6_checksum.h"
#include "ip6/ipv6_input.h"
#include "slowpath/slowpath.h"

namespace appliance {

namespace {

constexpr uint8_t kSolicit = 135, kAdvert = 136;
constexpr uint8_t kSourceLinkAddr = 1, kTargetLinkAddr = 2;
constexpr uint8_t kRouter = 0x80, kSolicited = 0x40, kOverride = 0x20;
constexpr uint32_t kNdLen = 24;  // type, code, checksum, 4 bytes, target
constexpr uint32_t kLinkAddrOptionLen = 8;

const Ipv6Address kAllNodes{0xff, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};

struct NdMessage {
    uint8_t type;
    uint8_t flags;  // NA: router, solicited, override
    Ipv6Address target;
    const rte_ether_addr* link_addr = nullptr;  // the source or target link-layer address option
};

// The checks of RFC 4861 7.1.1 and 7.1.2 (checksum and type already done).
bool parse(const rte_ipv6_hdr* ip, NdMessage* out) {
    const auto* icmp = reinterpret_cast<const uint8_t*>(ip + 1);
    const uint32_t len = rte_be_to_cpu_16(ip->payload_len);
    if (ip->hop_limits != 255 || icmp[1] != 0 || len < kNdLen) return false;
    out->type = icmp[0];
    out->flags = icmp[4];
    std::memcpy(out->target.data(), icmp + 8, 16);
    if (out->target[0] == 0xff) return false;
    const uint8_t wanted = out->type == kSolicit ? kSourceLinkAddr : kTargetLinkAddr;
    for (uint32_t at = kNdLen; at < len;) {
        if (at + 2 > len || icmp[at + 1] == 0 || at + icmp[at + 1] * 8u > len) return false;
        if (icmp[at] == wanted && icmp[at + 1] == 1)
            out->link_addr = reinterpret_cast<const rte_ether_addr*>(icmp + at + 2);
        at += icmp[at + 1] * 8u;
    }
    const bool from_nowhere = ipv6_unspecified(ip->src_addr);
    if (out->type == kSolicit && from_nowhere && (ip->dst_addr[0] != 0xff || out->link_addr))
        return false;  // DAD goes to the solicited-node group, without a source address option
    if (out->type == kAdvert && ip->dst_addr[0] == 0xff && (out->flags & kSolicited)) return false;
    return true;
}

}  // namespace

void SlowPath::nd_input(rte_mbuf* m, uint16_t port) {
    stats_.local++;
    const auto* ip = rte_pktmbuf_mtod_offset(m, const rte_ipv6_hdr*, sizeof(rte_ether_hdr));
    NdMessage nd{};
    const bool valid = parse(ip, &nd);
    const Ipv6Address src = IpAddr::v6(ip->src_addr).b;
    const rte_ether_addr frame_src = rte_pktmbuf_mtod(m, const rte_ether_hdr*)->src_addr;
    rte_pktmbuf_free(m);
    if (!valid) {
        stats_.nd_ignored++;
        return;
    }
    if (nd.type == kSolicit) {
        // Only for this port's addresses (Linux answers no other without proxy NDP),
        // and a VRRP master's virtual ones, from the virtual MAC.
        const rte_ether_addr* own = vrrp_answers(port, IpAddr::v6(nd.target));
        if (own == nullptr && !address6_on(port, nd.target.data())) {
            stats_.nd_ignored++;
            return;
        }
        stats_.nd_solicits_in++;
        if (ipv6_unspecified(src.data()))  // someone checks whether our address is free: defend it
            return na_send(port, rte_ether_addr{{0x33, 0x33, 0, 0, 0, 1}}, kAllNodes, nd.target,
                           false, own);
        // Linux keeps the asker as STALE: usable at once, confirmed later.
        if (nd.link_addr) neigh_learn(port, IpAddr::v6(src), *nd.link_addr, NeighState::stale);
        return na_send(port, nd.link_addr ? *nd.link_addr : frame_src, src, nd.target, true, own);
    }
    // An advertisement: only for neighbours we know (Linux creates none from one).
    Neighbor* n = neigh_find(port, IpAddr::v6(nd.target));
    if (n == nullptr || n->state == NeighState::permanent || is_ours6(port, nd.target.data())) {
        stats_.nd_ignored++;
        return;
    }
    const bool solicited = nd.flags & kSolicited;
    if (n->state == NeighState::incomplete) {
        if (nd.link_addr == nullptr) {
            stats_.nd_ignored++;
            return;
        }
        stats_.nd_adverts_in++;
        return neigh_update(*n, *nd.link_addr, solicited ? NeighState::reachable : NeighState::stale);
    }
    const bool same = nd.link_addr == nullptr || rte_is_same_ether_addr(nd.link_addr, &n->mac);
    if (!(nd.flags & kOverride) && !same) {
        // A different address without override: not believed, but the entry is in doubt.
        if (n->state == NeighState::reachable) {
            n->state = NeighState::stale;
            n->changed_ms = now_ms();
            n->deadline_ms = n->changed_ms + config_.stale_ms;
        }
        stats_.nd_ignored++;
        return;
    }
    if (!solicited && same) {
        stats_.nd_ignored++;  // nothing new
        return;
    }
    stats_.nd_adverts_in++;
    neigh_update(*n, same ? n->mac : *nd.link_addr,
                 solicited ? NeighState::reachable : NeighState::stale);
}

// Who has `target`: to its solicited-node group, or to the neighbour itself
// when it is a probe of the MAC we know (RFC 4861 7.2.2, 7.3.3).
void SlowPath::ns_send(uint16_t port, const Ipv6Address& target, const rte_ether_addr* unicast_mac) {
    Ipv6Address dst = target;
    rte_ether_addr dst_mac;
    if (unicast_mac != nullptr) {
        dst_mac = *unicast_mac;
    } else {
        dst = {0xff, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0xff, target[13], target[14], target[15]};
        dst_mac = {{0x33, 0x33, dst[12], dst[13], dst[14], dst[15]}};  // RFC 2464 7
    }
    rte_mbuf* m = new_ipv6(port, source6_for(port, target), dst, 255,
                           uint16_t(kNdLen + kLinkAddrOptionLen));
    if (m == nullptr) return;
    auto* eth = rte_pktmbuf_mtod(m, rte_ether_hdr*);
    eth->dst_addr = dst_mac;
    eth->src_addr = ports_[port].mac;
    auto* ip = reinterpret_cast<rte_ipv6_hdr*>(eth + 1);
    auto* icmp = reinterpret_cast<uint8_t*>(ip + 1);
    std::memset(icmp, 0, kNdLen + kLinkAddrOptionLen);
    icmp[0] = kSolicit;
    std::memcpy(icmp + 8, target.data(), 16);
    icmp[kNdLen] = kSourceLinkAddr;
    icmp[kNdLen + 1] = 1;
    std::memcpy(icmp + kNdLen + 2, ports_[port].mac.addr_bytes, RTE_ETHER_ADDR_LEN);
    const uint16_t sum = icmp6_checksum(ip, icmp, kNdLen + kLinkAddrOptionLen);
    std::memcpy(icmp + 2, &sum, 2);
    stats_.nd_solicits_out++;
    send(m, port, true);
}

// `target` (ours) is at this port's MAC: an answer (solicited) or news to
// all nodes. Always with the router flag, and override: we own the address.
void SlowPath::na_send(uint16_t port, const rte_ether_addr& dst_mac, const Ipv6Address& dst,
                       const Ipv6Address& target, bool solicited, const rte_ether_addr* own) {
    rte_mbuf* m = new_ipv6(port, target, dst, 255, uint16_t(kNdLen + kLinkAddrOptionLen));
    if (m == nullptr) return;
    auto* eth = rte_pktmbuf_mtod(m, rte_ether_hdr*);
    eth->dst_addr = dst_mac;
    eth->src_addr = own != nullptr ? *own : ports_[port].mac;
    auto* ip = reinterpret_cast<rte_ipv6_hdr*>(eth + 1);
    auto* icmp = reinterpret_cast<uint8_t*>(ip + 1);
    std::memset(icmp, 0, kNdLen + kLinkAddrOptionLen);
    icmp[0] = kAdvert;
    icmp[4] = uint8_t(kRouter | kOverride | (solicited ? kSolicited : 0));
    std::memcpy(icmp + 8, target.data(), 16);
    icmp[kNdLen] = kTargetLinkAddr;
    icmp[kNdLen + 1] = 1;
    std::memcpy(icmp + kNdLen + 2, eth->src_addr.addr_bytes, RTE_ETHER_ADDR_LEN);
    const uint16_t sum = icmp6_checksum(ip, icmp, kNdLen + kLinkAddrOptionLen);
    std::memcpy(icmp + 2, &sum, 2);
    stats_.nd_adverts_out++;
    send(m, port, true);
}

// On start and when an address is added (RFC 4861 7.2.6), like gratuitous ARP.
void SlowPath::unsolicited_na(uint16_t port, const Ipv6Address& ip) {
    na_send(port, rte_ether_addr{{0x33, 0x33, 0, 0, 0, 1}}, kAllNodes, ip, false);
}

}  // namespace appliance
