// IPv4 in the slow path: the same routing decision a worker makes, then
// what a worker does not: hold for a neighbour, ICMP errors, fragmentation,
// Record Route and Timestamp options.
#include <arpa/inet.h>
#include <rte_hash.h>

#include <cstring>

#include "ip4/ipv4_input.h"
#include "slowpath/ipv4_options.h"
#include "ip4/ipv4_rewrite.h"
#include "nexthop/ecmp.h"
#include "rules/rule_lookup.h"
#include "slowpath/slowpath.h"

namespace appliance {

namespace {

rte_ipv4_hdr* ip_of(rte_mbuf* m) {
    return reinterpret_cast<rte_ipv4_hdr*>(rte_pktmbuf_mtod(m, rte_ether_hdr*) + 1);
}

uint32_t ihl_of(const rte_ipv4_hdr* ip) { return uint32_t(ip->version_ihl & 0x0f) * 4; }

void set_checksum(rte_ipv4_hdr* ip) {
    ip->hdr_checksum = 0;
    ip->hdr_checksum = uint16_t(~rte_raw_cksum(ip, ihl_of(ip)));
}

}  // namespace

uint32_t SlowPath::lookup(const rte_mbuf* m, uint16_t in_port) const {
    const auto* ip = reinterpret_cast<const rte_ipv4_hdr*>(
        rte_pktmbuf_mtod(m, const rte_ether_hdr*) + 1);
    if (flows_.active() != 0) {
        const FlowKey k = flow_key4(m);
        void* data = nullptr;
        if (rte_hash_lookup_data(flows_.hash(), &k, &data) >= 0) return rule_hop(data);
    }
    return vrfs_.fib(vrf_of(in_port)).lookup(ntohl(ip->dst_addr)).value_or(kNoRoute);
}

// Packets with options (and TTL <= 1). Options in error earn a Parameter
// Problem pointing at the octet (RFC 1812 4.3.3.5, as Linux) and source
// routes are refused (as Linux by default), unless the destination is one
// never routed: those go as they are, without ICMP.
void SlowPath::ipv4_input(rte_mbuf* m, uint16_t in_port) {
    const uint32_t hop_id = lookup(m, in_port);
    const rte_ipv4_hdr* ip = ip_of(m);
    if (ihl_of(ip) > sizeof(rte_ipv4_hdr) && !never_routed(hop_id)) {
        const Ipv4Options options = parse_ipv4_options(ip);
        if (options.problem) {
            icmp_error(m, in_port, kIcmpParameterProblem, 0, uint32_t(options.problem) << 24);
            return drop(m, DropReason::malformed);
        }
        if (options.source_route) return drop(m, DropReason::source_route);
    }
    ipv4_route(m, in_port, hop_id, false);
}

void SlowPath::ipv4_route(rte_mbuf* m, uint16_t in_port, uint32_t hop_id, bool generated) {
    rte_ipv4_hdr* ip = ip_of(m);
    const NextHop* hop = hop_id < kRuleDrop ? hops_.get(hop_id) : nullptr;
    if (hop == nullptr) {
        if (generated) return drop_generated(m);
        if (hop_id == kRuleDrop) return drop(m, DropReason::rule_drop);
        if (hop_id != kNoRoute) return drop(m, DropReason::nexthop_down);
        icmp_error(m, in_port, 3, 0);  // net unreachable
        return drop(m, DropReason::no_route);
    }
    if (hop->action == HopAction::group) {  // one path of several, by the flow's hash
        hop_id = group_member(hops_, hop_id, m);
        hop = hop_id < kRuleDrop ? hops_.get(hop_id) : nullptr;
        if (hop == nullptr) return generated ? drop_generated(m) : drop(m, DropReason::nexthop_down);
    }
    switch (hop->action) {
    case HopAction::drop:
        if (generated) return drop_generated(m);
        // Linux's answers for unreachable and prohibit routes: host unreachable, filtered.
        if (hop->drop_reason == uint8_t(DropReason::route_unreachable)) icmp_error(m, in_port, 3, 1);
        if (hop->drop_reason == uint8_t(DropReason::route_prohibited) ||
            hop->drop_reason == uint8_t(DropReason::acl_reject))  // nftables' reject with admin-prohibited
            icmp_error(m, in_port, 3, 13);
        return drop(m, DropReason(hop->drop_reason));
    case HopAction::local:
        if (generated) return drop_generated(m);  // to ourselves: nothing listens
        return local_input(m, in_port);
    default:
        break;
    }
    // In transit: TTL, then options, before anything waits for a neighbour
    // (once: a held packet comes back marked as checked).
    if (!generated && get_meta(m).kind != PuntKind::ipv4_checked) {
        if (ip->time_to_live <= 1) {
            icmp_error(m, in_port, 11, 0);  // TTL exceeded in transit
            return drop(m, DropReason::ttl_expired);
        }
        if (ihl_of(ip) > sizeof(rte_ipv4_hdr)) {  // as known on the link it goes to
            const IpAddr peer = gateway_of(hop_id).value_or(IpAddr::v4(ntohl(ip->dst_addr)));
            update_options(ip, source_for(hop->iface, peer), vrf_of(hop->iface));
        }
        PacketMeta meta = get_meta(m);
        meta.kind = PuntKind::ipv4_checked;
        set_meta(m, meta);
    }
    resolve_and_send(m, in_port, hop_id, *hop, IpAddr::v4(ntohl(ip->dst_addr)), generated);
}

// A forward decision, TTL and options done: MTU, rewrite, out through a worker.
void SlowPath::ipv4_send(rte_mbuf* m, const NextHop& hop, bool generated) {
    rte_ipv4_hdr* ip = ip_of(m);
    if (rte_be_to_cpu_16(ip->total_length) > hop.mtu) {
        if (ip->fragment_offset & RTE_BE16(RTE_IPV4_HDR_DF_FLAG)) {
            if (generated) return drop_generated(m);
            icmp_error(m, get_meta(m).port, 3, 4, hop.mtu);  // fragmentation needed
            return drop(m, DropReason::fragmentation_needed);
        }
        return fragment(m, hop);
    }
    auto* eth = rte_pktmbuf_mtod(m, rte_ether_hdr*);
    if (generated) {
        std::memcpy(eth, &hop, 2 * RTE_ETHER_ADDR_LEN);
        eth->ether_type = RTE_BE16(RTE_ETHER_TYPE_IPV4);
    } else {
        ipv4_rewrite(eth, ip, hop);
    }
    send(m, hop.iface, generated);
}

// Non-DF packets over the egress MTU leave as fragments (RFC 791 3.2, RFC
// 1812 5.2.6), built by copying: the first keeps every option, the others
// only those with the copy flag. The original counts as forwarded once.
void SlowPath::fragment(rte_mbuf* m, const NextHop& hop) {
    const rte_ipv4_hdr* ip = ip_of(m);
    const bool transit = !get_meta(m).generated;
    const uint32_t ihl = ihl_of(ip);
    const uint32_t total = rte_be_to_cpu_16(ip->total_length);
    const uint16_t frag = rte_be_to_cpu_16(ip->fragment_offset);
    const uint32_t base = uint32_t(frag & RTE_IPV4_HDR_OFFSET_MASK) * 8;
    const bool more_after = frag & RTE_IPV4_HDR_MF_FLAG;
    const auto* opts = reinterpret_cast<const uint8_t*>(ip) + sizeof(rte_ipv4_hdr);

    uint8_t copied[40];  // options of the later fragments
    uint32_t copied_len = 0;
    for (uint32_t i = 0; i < ihl - sizeof(rte_ipv4_hdr);) {
        const uint8_t type = opts[i];
        if (type == 0) break;
        if (type == 1) { ++i; continue; }
        const uint32_t len = opts[i + 1];
        if (type & 0x80) {
            std::memcpy(copied + copied_len, opts + i, len);
            copied_len += len;
        }
        i += len;
    }
    while (copied_len % 4) copied[copied_len++] = 0;

    std::vector<rte_mbuf*> out;
    uint32_t offset = 0;
    const uint32_t payload = total - ihl;
    while (offset < payload) {
        const bool first = offset == 0;
        const uint32_t hlen = first ? ihl : uint32_t(sizeof(rte_ipv4_hdr)) + copied_len;
        uint32_t chunk = payload - offset;
        if (hlen + chunk > hop.mtu) chunk = (hop.mtu - hlen) & ~7u;
        rte_mbuf* f = alloc(hop.iface);
        char* data = f ? rte_pktmbuf_append(f, uint16_t(sizeof(rte_ether_hdr) + hlen + chunk)) : nullptr;
        if (data == nullptr || chunk == 0) {
            if (f) rte_pktmbuf_free(f);
            for (rte_mbuf* o : out) rte_pktmbuf_free(o);
            return drop(m, DropReason::no_mbuf);
        }
        auto* eth = reinterpret_cast<rte_ether_hdr*>(data);
        std::memcpy(eth, &hop, 2 * RTE_ETHER_ADDR_LEN);
        eth->ether_type = RTE_BE16(RTE_ETHER_TYPE_IPV4);
        auto* fip = reinterpret_cast<rte_ipv4_hdr*>(eth + 1);
        std::memcpy(fip, ip, sizeof(rte_ipv4_hdr));
        if (first) std::memcpy(fip + 1, opts, ihl - sizeof(rte_ipv4_hdr));
        else std::memcpy(fip + 1, copied, copied_len);
        fip->version_ihl = uint8_t(0x40 | (hlen / 4));
        fip->total_length = rte_cpu_to_be_16(uint16_t(hlen + chunk));
        const bool last = offset + chunk >= payload;
        fip->fragment_offset = rte_cpu_to_be_16(
            uint16_t(((base + offset) / 8) | ((!last || more_after) ? RTE_IPV4_HDR_MF_FLAG : 0)));
        if (transit) fip->time_to_live--;
        set_checksum(fip);
        const void* src = rte_pktmbuf_read(m, uint32_t(sizeof(rte_ether_hdr) + ihl + offset), chunk,
                                           reinterpret_cast<uint8_t*>(fip) + hlen);
        if (src != reinterpret_cast<uint8_t*>(fip) + hlen)
            std::memcpy(reinterpret_cast<uint8_t*>(fip) + hlen, src, chunk);
        out.push_back(f);
        offset += chunk;
    }
    for (rte_mbuf* f : out) {
        stats_.fragments_out++;
        send(f, hop.iface, true);
    }
    if (transit) stats_.fragmented++;  // a generated packet lives on as its fragments
    rte_pktmbuf_free(m);
}

// Record Route and Timestamp (RFC 791, RFC 1812 5.2.4) of a checked header
// get `address` (network order: the port the packet leaves by, or the one
// an echo request came to), and the checksum is made good again.
void SlowPath::update_options(rte_ipv4_hdr* ip, uint32_t address, uint16_t vrf) {
    const Ipv4Options options = parse_ipv4_options(ip);
    auto* h = reinterpret_cast<uint8_t*>(ip);
    const uint32_t me = htonl(address);
    if (options.record_route) record_route(h + options.record_route, me);
    if (options.timestamp) {
        uint8_t* ts = h + options.timestamp;
        const uint32_t named = timestamp_named(ts);
        stamp(ts, me, ms_since_midnight(), named != 0 && is_ours(vrf, IpAddr::v4(ntohl(named))));
    }
    if (options.record_route || options.timestamp) set_checksum(ip);
}

}  // namespace appliance
