// ICMP (RFC 792, RFC 1812 4.3): echo replies for our addresses, and errors
// about packets we could not forward, sent under one token bucket (RFC 1812
// 4.3.2.8) from the address of the port the error leaves by.
#include <arpa/inet.h>
#include <rte_icmp.h>

#include <algorithm>
#include <cstring>

#include "ip4/ipv4_input.h"
#include "slowpath/ipv4_options.h"
#include "slowpath/slowpath.h"

namespace appliance {

namespace {

constexpr uint8_t kEchoReply = 0, kUnreachable = 3, kRedirect = 5, kEchoRequest = 8,
                  kTimeExceeded = 11, kParameterProblem = kIcmpParameterProblem, kSourceQuench = 4;

bool is_icmp_error(uint8_t type) {
    return type == kUnreachable || type == kSourceQuench || type == kRedirect ||
           type == kTimeExceeded || type == kParameterProblem;
}

uint16_t checksum(const void* data, size_t len) { return uint16_t(~rte_raw_cksum(data, len)); }

// A fresh IPv4 packet (Ethernet addresses left for output to fill), with
// `options_len` bytes of `options` (a multiple of 4) in its header.
rte_ipv4_hdr* new_ipv4(rte_mbuf* m, uint32_t src_be, uint32_t dst_be, uint16_t payload,
                       uint16_t id, const uint8_t* options = nullptr, uint32_t options_len = 0) {
    const uint32_t ihl = uint32_t(sizeof(rte_ipv4_hdr)) + options_len;
    char* data = rte_pktmbuf_append(m, uint16_t(sizeof(rte_ether_hdr) + ihl + payload));
    if (data == nullptr) return nullptr;
    reinterpret_cast<rte_ether_hdr*>(data)->ether_type = RTE_BE16(RTE_ETHER_TYPE_IPV4);
    auto* ip = reinterpret_cast<rte_ipv4_hdr*>(data + sizeof(rte_ether_hdr));
    ip->version_ihl = uint8_t(0x40 | (ihl / 4));
    ip->type_of_service = 0xc0;  // internetwork control, as Linux sends ICMP
    ip->total_length = htons(uint16_t(ihl + payload));
    ip->packet_id = htons(id);
    ip->fragment_offset = 0;
    ip->time_to_live = 64;
    ip->next_proto_id = IPPROTO_ICMP;
    ip->src_addr = src_be;
    ip->dst_addr = dst_be;
    if (options_len) std::memcpy(ip + 1, options, options_len);
    ip->hdr_checksum = 0;
    ip->hdr_checksum = checksum(ip, ihl);
    return ip;
}

// The options an echo reply carries back (RFC 1122 3.2.2.6): the request's
// Record Route and Timestamp, in its order, padded with end-of-list. Others
// (security, router alert) are the request's alone, as on Linux. Returns the length.
uint32_t echoed_options(const rte_ipv4_hdr* ip, const Ipv4Options& parsed, uint8_t* out) {
    const auto* h = reinterpret_cast<const uint8_t*>(ip);
    uint8_t first = parsed.record_route, second = parsed.timestamp;
    if (first == 0 || (second != 0 && second < first)) std::swap(first, second);
    uint32_t len = 0;
    for (uint8_t at : {first, second}) {
        if (at == 0) continue;
        std::memcpy(out + len, h + at, h[at + 1]);
        len += h[at + 1];
    }
    while (len % 4) out[len++] = 0;
    return len;
}

}  // namespace

// For one of our addresses: echo requests are answered, the rest goes to
// the port's kernel interface if it has one.
void SlowPath::local_input(rte_mbuf* m, uint16_t in_port) {
    const auto* ip = reinterpret_cast<const rte_ipv4_hdr*>(rte_pktmbuf_mtod(m, rte_ether_hdr*) + 1);
    const uint32_t ihl = uint32_t(ip->version_ihl & 0x0f) * 4;
    const uint32_t total = ntohs(ip->total_length);
    const bool whole = (ip->fragment_offset & RTE_BE16(RTE_IPV4_HDR_OFFSET_MASK | RTE_IPV4_HDR_MF_FLAG)) == 0;
    if (vrrp_refuses(vrf_of(in_port), IpAddr::v4(ntohl(ip->dst_addr))))
        return drop(m, DropReason::vrrp_not_accepted);
    if (ip->next_proto_id != IPPROTO_ICMP || !whole || total < ihl + sizeof(rte_icmp_hdr) ||
        rte_pktmbuf_data_len(m) < sizeof(rte_ether_hdr) + total) {
        return to_kernel(m, in_port);  // (the kernel reassembles)
    }
    const auto* icmp = reinterpret_cast<const uint8_t*>(ip) + ihl;
    const uint32_t icmp_len = total - ihl;
    if (icmp[0] != kEchoRequest) return to_kernel(m, in_port);
    if (checksum(icmp, icmp_len) != 0) return drop(m, DropReason::bad_checksum);

    uint8_t options[40];
    const uint32_t options_len = ihl > sizeof(rte_ipv4_hdr)
                                     ? echoed_options(ip, parse_ipv4_options(ip), options) : 0;
    rte_mbuf* r = alloc(in_port);
    rte_ipv4_hdr* rip = r ? new_ipv4(r, ip->dst_addr, ip->src_addr, uint16_t(icmp_len), ip_id_++,
                                     options, options_len)
                          : nullptr;
    if (rip == nullptr) {
        if (r) rte_pktmbuf_free(r);
        return drop(m, DropReason::no_mbuf);
    }
    auto* ricmp = reinterpret_cast<uint8_t*>(rip) + sizeof(rte_ipv4_hdr) + options_len;
    std::memcpy(ricmp, icmp, icmp_len);  // identifier, sequence and data echoed
    ricmp[0] = kEchoReply;
    ricmp[1] = 0;
    ricmp[2] = ricmp[3] = 0;
    const uint16_t sum = checksum(ricmp, icmp_len);
    std::memcpy(ricmp + 2, &sum, 2);
    rip->type_of_service = ip->type_of_service;
    rip->hdr_checksum = 0;
    rip->hdr_checksum = checksum(rip, sizeof(rte_ipv4_hdr) + options_len);
    // This router on the route recorded, once (the address the request came to).
    if (options_len) update_options(rip, ntohl(ip->dst_addr), vrf_of(in_port));
    stats_.local++;
    stats_.icmp_echo_replies++;
    trace_slow(m, TraceSlow::local);
    rte_pktmbuf_free(m);
    set_meta(r, {0, in_port, PuntKind::ipv4_routed, 1});
    ipv4_route(r, in_port, lookup(r, in_port), true);
}

// An error about `m` (left untouched) back to its source: the IP header and
// the first 8 bytes of its data quoted (RFC 792). Never about ICMP errors,
// non-first fragments, or packets from or to broadcast/multicast/martian
// addresses (RFC 1812 4.3.2.7).
void SlowPath::icmp_error(const rte_mbuf* m, uint16_t in_port, uint8_t type, uint8_t code,
                          uint32_t info) {
    const auto* ip = reinterpret_cast<const rte_ipv4_hdr*>(
        rte_pktmbuf_mtod(m, const rte_ether_hdr*) + 1);
    const uint32_t ihl = uint32_t(ip->version_ihl & 0x0f) * 4;
    const uint32_t total = ntohs(ip->total_length);
    const uint32_t src = ntohl(ip->src_addr), dst = ntohl(ip->dst_addr);
    if (martian_source(ip->src_addr) || (dst >> 28) >= 0xe) return;
    if (ip->fragment_offset & RTE_BE16(RTE_IPV4_HDR_OFFSET_MASK)) return;
    if (ip->next_proto_id == IPPROTO_ICMP) {
        if (total <= ihl || rte_pktmbuf_data_len(m) <= sizeof(rte_ether_hdr) + ihl) return;
        if (is_icmp_error(reinterpret_cast<const uint8_t*>(ip)[ihl])) return;
    }
    if (!icmp_bucket_.take(rte_rdtsc())) {
        stats_.icmp_rate_limited++;
        trace_slow(m, TraceSlow::icmp_limited, type, code);
        return;
    }
    // From the port the error leaves by (RFC 1812 4.3.2.4), as Linux does.
    const uint32_t back = vrfs_.fib(vrf_of(in_port)).lookup(src).value_or(kNoRoute);
    const NextHop* hop = back < kRuleDrop ? hops_.get(back) : nullptr;
    const uint32_t from = source_for(hop && hop->action != HopAction::local &&
                                     hop->action != HopAction::drop ? hop->iface : in_port,
                                     gateway_of(back).value_or(IpAddr::v4(src)));
    if (from == 0) return;  // no address of ours to send it from
    uint32_t quoted = std::min<uint32_t>(total, ihl + 8);
    quoted = std::min<uint32_t>(quoted, rte_pktmbuf_data_len(m) - sizeof(rte_ether_hdr));
    rte_mbuf* e = alloc(in_port);
    rte_ipv4_hdr* eip = e ? new_ipv4(e, htonl(from), ip->src_addr,
                                     uint16_t(sizeof(rte_icmp_hdr) + quoted), ip_id_++)
                          : nullptr;
    if (eip == nullptr) {
        if (e) rte_pktmbuf_free(e);
        stats_.generated_dropped++;
        return;
    }
    auto* icmp = reinterpret_cast<uint8_t*>(eip + 1);
    icmp[0] = type;
    icmp[1] = code;
    icmp[2] = icmp[3] = 0;
    // RFC 1191's next-hop MTU in the low 16 bits, RFC 792's pointer in the high 8
    const uint32_t info_be = htonl(info);
    std::memcpy(icmp + 4, &info_be, 4);
    std::memcpy(icmp + sizeof(rte_icmp_hdr), ip, quoted);
    const uint16_t sum = checksum(icmp, sizeof(rte_icmp_hdr) + quoted);
    std::memcpy(icmp + 2, &sum, 2);
    if (type == kTimeExceeded) stats_.icmp_time_exceeded++;
    else if (type == kParameterProblem) stats_.icmp_parameter_problem++;
    else if (code == 4) stats_.icmp_fragmentation_needed++;
    else stats_.icmp_unreachable++;
    trace_slow(m, TraceSlow::icmp_error, type, code);
    set_meta(e, {0, in_port, PuntKind::ipv4_routed, 1});
    ipv4_route(e, in_port, back, true);
}

}  // namespace appliance
