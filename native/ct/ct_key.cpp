#include "ct/ct_key.h"

#include <netinet/in.h>

#include <rte_ip.h>

#include "ip6/ext_headers.h"

namespace appliance {

namespace {

constexpr uint8_t kIcmpEchoReply = 0, kIcmpEchoRequest = 8;
constexpr uint8_t kIcmp6EchoRequest = 128, kIcmp6EchoReply = 129;

bool icmp_error4(uint8_t type) { return type == 3 || type == 4 || type == 5 || type == 11 || type == 12; }
bool icmp_error6(uint8_t type) { return type >= 1 && type <= 4; }

// Ports (or the echo identifier) of the L4 header at `l4`, `room` bytes of it.
bool read_ports(CtKey& k, const uint8_t* l4, uint32_t room, uint8_t* tcp_flags) {
    if (k.proto == IPPROTO_TCP || k.proto == IPPROTO_UDP || k.proto == IPPROTO_SCTP ||
        k.proto == IPPROTO_UDPLITE) {
        if (room < 4) return false;
        std::memcpy(&k.sport, l4, 2);
        std::memcpy(&k.dport, l4 + 2, 2);
        if (k.proto == IPPROTO_TCP && tcp_flags) *tcp_flags = room >= 14 ? l4[13] : 0;
        return true;
    }
    return true;  // another protocol: addresses only
}

// What follows the IP header(s) at `l4` (`room` bytes): the ports, an echo's
// identifier, or an ICMP error's quoted packet.
void upper_layer(CtParsed& p, const uint8_t* l4, uint32_t room, bool non_first) {
    CtKey& k = p.key;
    if (non_first) {
        p.kind = CtPacket::fragment;
        return;
    }
    if (k.proto == (k.v6 ? uint8_t(IPPROTO_ICMPV6) : uint8_t(IPPROTO_ICMP))) {
        if (room < 8) return;
        const uint8_t type = l4[0];
        const uint8_t request = k.v6 ? kIcmp6EchoRequest : kIcmpEchoRequest;
        const uint8_t reply = k.v6 ? kIcmp6EchoReply : kIcmpEchoReply;
        if (type == request || type == reply) {
            std::memcpy(&k.sport, l4 + 4, 2);
            k.dport = k.sport;
            k.echo_reply = type == reply;
            p.kind = CtPacket::flow;
            return;
        }
        if (!(k.v6 ? icmp_error6(type) : icmp_error4(type))) return;
        // The quoted header and the 8 bytes after it (or more).
        CtParsed inner;
        if (k.v6)
            ct_parse6(l4 + 8, room - 8, k.vrf, inner);
        else
            ct_parse4_any(l4 + 8, room - 8, k.vrf, inner);
        if (inner.kind != CtPacket::flow) return;
        p = inner;
        p.kind = CtPacket::icmp_error;
        return;
    }
    if (read_ports(k, l4, room, &p.tcp_flags)) p.kind = CtPacket::flow;
}

}  // namespace

void ct_parse4_any(const uint8_t* ip, uint32_t len, uint16_t vrf, CtParsed& p) {
    p = CtParsed{};
    p.kind = CtPacket::untracked;
    if (len < sizeof(rte_ipv4_hdr)) return;
    const auto* h = reinterpret_cast<const rte_ipv4_hdr*>(ip);
    const uint32_t ihl = uint32_t(h->version_ihl & 0x0f) * 4;
    if (ihl < sizeof(rte_ipv4_hdr) || ihl > len) return;
    CtKey& k = p.key;
    std::memcpy(k.src, &h->src_addr, 4);
    std::memcpy(k.dst, &h->dst_addr, 4);
    k.proto = h->next_proto_id;
    k.vrf = vrf;
    const bool non_first = (h->fragment_offset & RTE_BE16(RTE_IPV4_HDR_OFFSET_MASK)) != 0;
    upper_layer(p, ip + ihl, len - ihl, non_first);
}

void ct_parse6(const uint8_t* ip, uint32_t len, uint16_t vrf, CtParsed& p) {
    p = CtParsed{};
    p.kind = CtPacket::untracked;
    if (len < sizeof(rte_ipv6_hdr)) return;
    const auto* h = reinterpret_cast<const rte_ipv6_hdr*>(ip);
    CtKey& k = p.key;
    std::memcpy(k.src, h->src_addr, 16);
    std::memcpy(k.dst, h->dst_addr, 16);
    k.v6 = 1;
    k.vrf = vrf;
    const uint32_t room = len - uint32_t(sizeof(rte_ipv6_hdr));
    const UpperLayer upper = ipv6_upper_layer(ip + sizeof(rte_ipv6_hdr), h->proto, room);
    k.proto = upper.proto;
    const uint32_t l4_room = room > upper.offset ? room - upper.offset : 0;
    upper_layer(p, ip + sizeof(rte_ipv6_hdr) + upper.offset, l4_room, upper.non_first);
}

}  // namespace appliance
