#include "nat/nat_session.h"

#include <rte_hash_crc.h>
#include <rte_ip.h>

#include "nat/nat_rewrite.h"

namespace appliance {

bool source_nat(NatTable& nat, const NatRules& rules, uint16_t iface, const CtKey& k, CtKey* out,
                uint32_t* mapping) {
    *out = k;
    const uint32_t src = key_ipv4(k.src);
    if (const NatForward* st = rules.static_of(iface, src)) {
        *out = with_source(k, st->public_addr, k.sport);
        return true;
    }
    const NatIfaceRules& r = rules.ifaces[iface];
    if (r.source == NatSource::none || r.addresses.empty()) return true;
    // Paired pooling (RFC 4787 REQ-2): an inside address always gets the same public one.
    const uint32_t pick = uint32_t((uint64_t(rte_hash_crc_4byte(src, 0)) * r.addresses.size()) >> 32);
    const NatMapped mp = nat.acquire(k.proto, src, k.sport, r.addresses[pick], r.port_lo, r.port_hi);
    if (mp.mapping == kNoMapping) return false;
    *mapping = mp.mapping;
    *out = with_source(k, mp.addr, mp.port);
    return true;
}

void nat_translate(uint8_t* ip, uint32_t room, const CtSession& s, unsigned d, CtPacket kind) {
    const CtKey& mine = s.key[d];
    const CtKey& other = s.key[1 - d];
    if (kind == CtPacket::flow) {
        nat_rewrite4(ip, room, other.reversed());
        return;
    }
    const auto* h = reinterpret_cast<const rte_ipv4_hdr*>(ip);
    const uint32_t src = key_ipv4(mine.src) != key_ipv4(other.dst) ? key_ipv4(other.dst) : h->src_addr;
    const uint32_t dst = key_ipv4(mine.dst) != key_ipv4(other.src) ? key_ipv4(other.src) : h->dst_addr;
    nat_rewrite_icmp_error4(ip, room, other, src, dst);
}

}  // namespace appliance
