#include "nat/nat_rewrite.h"

#include <netinet/in.h>

#include <algorithm>
#include <cstring>

#include <rte_ip.h>

namespace appliance {

namespace {

// RFC 1624 eqn. 3 for one 16-bit word, as stored (one's complement sums do
// not care about byte order, RFC 1071 2.B).
uint16_t checksum_replace16(uint16_t sum, uint16_t from, uint16_t to) {
    uint32_t s = uint32_t(uint16_t(~sum)) + uint16_t(~from) + to;
    s = (s & 0xffff) + (s >> 16);
    s = (s & 0xffff) + (s >> 16);
    return uint16_t(~s);
}

uint16_t checksum_replace32(uint16_t sum, uint32_t from, uint32_t to) {
    sum = checksum_replace16(sum, uint16_t(from), uint16_t(to));
    return checksum_replace16(sum, uint16_t(from >> 16), uint16_t(to >> 16));
}

uint16_t load16(const uint8_t* p) {
    uint16_t v;
    std::memcpy(&v, p, 2);
    return v;
}
void store16(uint8_t* p, uint16_t v) { std::memcpy(p, &v, 2); }

uint32_t key_addr(const uint8_t* a) {
    uint32_t v;
    std::memcpy(&v, a, 4);
    return v;
}

// The L4 header at `l4` (`room` bytes) of `proto`: ports (or an echo's
// identifier) and its checksum follow the address and port changes.
void rewrite_l4(uint8_t proto, uint8_t* l4, uint32_t room, uint32_t old_src, uint32_t old_dst,
                const CtKey& to) {
    const uint32_t src = key_addr(to.src), dst = key_addr(to.dst);
    if (proto == IPPROTO_TCP || proto == IPPROTO_UDP) {
        if (room < 4) return;
        const uint16_t old_sport = load16(l4), old_dport = load16(l4 + 2);
        store16(l4, to.sport);
        store16(l4 + 2, to.dport);
        const uint32_t at = proto == IPPROTO_TCP ? 16 : 6;
        if (room < at + 2) return;  // (a quoted header's may be cut off)
        uint16_t sum = load16(l4 + at);
        if (proto == IPPROTO_UDP && sum == 0) return;  // no checksum
        sum = checksum_replace32(sum, old_src, src);
        sum = checksum_replace32(sum, old_dst, dst);
        sum = checksum_replace16(sum, old_sport, to.sport);
        sum = checksum_replace16(sum, old_dport, to.dport);
        if (proto == IPPROTO_UDP && sum == 0) sum = 0xffff;  // (0 would say none)
        store16(l4 + at, sum);
    } else if (proto == IPPROTO_ICMP && to.echo()) {
        if (room < 8) return;
        const uint16_t old_id = load16(l4 + 4);
        store16(l4 + 4, to.sport);
        store16(l4 + 2, checksum_replace16(load16(l4 + 2), old_id, to.sport));
    }
}

}  // namespace

void nat_rewrite4(uint8_t* ip, uint32_t len, const CtKey& to) {
    auto* h = reinterpret_cast<rte_ipv4_hdr*>(ip);
    const uint32_t ihl = uint32_t(h->version_ihl & 0x0f) * 4;
    const uint32_t old_src = h->src_addr, old_dst = h->dst_addr;
    const uint32_t src = key_addr(to.src), dst = key_addr(to.dst);
    h->src_addr = src;
    h->dst_addr = dst;
    uint16_t sum = checksum_replace32(h->hdr_checksum, old_src, src);
    h->hdr_checksum = checksum_replace32(sum, old_dst, dst);
    if (len > ihl) rewrite_l4(h->next_proto_id, ip + ihl, len - ihl, old_src, old_dst, to);
}

void nat_rewrite_icmp_error4(uint8_t* ip, uint32_t len, const CtKey& quoted, uint32_t src, uint32_t dst) {
    auto* h = reinterpret_cast<rte_ipv4_hdr*>(ip);
    const uint32_t ihl = uint32_t(h->version_ihl & 0x0f) * 4;
    // The quoted packet first: its header, then what of its L4 header is there.
    uint8_t* icmp = ip + ihl;
    const uint32_t icmp_len = std::min<uint32_t>(len - ihl, __builtin_bswap16(h->total_length) - ihl);
    uint8_t* inner = icmp + 8;
    auto* ih = reinterpret_cast<rte_ipv4_hdr*>(inner);
    const uint32_t inner_ihl = uint32_t(ih->version_ihl & 0x0f) * 4;
    if (icmp_len < 8 + inner_ihl) return;  // (parsed from padding past the datagram: left alone)
    const uint32_t old_src = ih->src_addr, old_dst = ih->dst_addr;
    ih->src_addr = key_addr(quoted.src);
    ih->dst_addr = key_addr(quoted.dst);
    ih->hdr_checksum = 0;
    ih->hdr_checksum = rte_ipv4_cksum(ih);
    rewrite_l4(ih->next_proto_id, inner + inner_ihl, icmp_len - 8 - inner_ihl, old_src, old_dst, quoted);
    // The error's ICMP checksum covers all of it: summed again (errors are small and rare).
    store16(icmp + 2, 0);
    store16(icmp + 2, uint16_t(~rte_raw_cksum(icmp, icmp_len)));
    h->src_addr = src;
    h->dst_addr = dst;
    h->hdr_checksum = 0;
    h->hdr_checksum = rte_ipv4_cksum(h);
}

}  // namespace appliance
