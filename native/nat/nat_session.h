// What NAT44 does with a session: the translated key a new one leaves with
// (source NAT by the interface's rules), and a found one's packets rewritten
// to its other side. The stages (ct/ct_stage.cpp) decide when.
#pragma once

#include <cstdint>
#include <cstring>

#include "ct/ct_key.h"
#include "ct/ct_session.h"
#include "nat/nat_table.h"

namespace appliance {

// An IPv4 address of a key (network order).
inline uint32_t key_ipv4(const uint8_t* a) {
    uint32_t v;
    std::memcpy(&v, a, 4);
    return v;
}

// `k` with its source made `addr`:`port` (an echo's identifier is both "ports").
inline CtKey with_source(CtKey k, uint32_t addr, uint16_t port) {
    std::memcpy(k.src, &addr, 4);
    k.sport = port;
    if (k.echo()) k.dport = port;
    return k;
}

// `k` with its destination made `addr`, and `port` unless 0.
inline CtKey with_destination(CtKey k, uint32_t addr, uint16_t port) {
    std::memcpy(k.dst, &addr, 4);
    if (port != 0) k.dport = port;
    return k;
}

// Source NAT for a new session of `k` leaving by `iface`: the key it leaves
// with (`k` itself when nothing applies) and the mapping it then holds.
// false: its public address has no port free.
bool source_nat(NatTable& nat, const NatRules& rules, uint16_t iface, const CtKey& k, CtKey* out,
                uint32_t* mapping);

// The IPv4 packet at `ip` (`room` bytes), of direction `d` of a translated
// session, rewritten: a flow's packet to the other direction's key reversed;
// an ICMP error about one quotes the other direction's key, and its own
// addresses change as that direction's do (RFC 5508, as Linux).
void nat_translate(uint8_t* ip, uint32_t room, const CtSession& s, unsigned d, CtPacket kind);

}  // namespace appliance
