// Rewriting an IPv4 packet's addresses and ports to a session's other side.
// A packet matching key[d] leaves as the reverse of key[1-d] (with no NAT
// that is itself). Checksums are patched incrementally (RFC 1624): the IP
// header's, and TCP's and UDP's over the pseudo-header (a UDP checksum of 0,
// none, stays 0); an echo's identifier in the ICMP checksum. ICMP errors
// (RFC 5508) get the quoted packet rewritten to what its sender sent.
#pragma once

#include <cstdint>

#include "ct/ct_key.h"

namespace appliance {

// The IPv4 packet at `ip` (`len` bytes in the buffer), of a flow (a first
// fragment or whole): its tuple becomes `to`'s (src, dst, sport, dport).
void nat_rewrite4(uint8_t* ip, uint32_t len, const CtKey& to);

// An ICMP error at `ip` about a session's packet: the quoted packet becomes
// `quoted` (the tuple it had as its sender sent it); the error's own
// addresses become `src`, `dst` (network order).
void nat_rewrite_icmp_error4(uint8_t* ip, uint32_t len, const CtKey& quoted, uint32_t src, uint32_t dst);

// The tuple a packet of the session direction `from` leaves with: the
// reverse of the other direction's key.
inline CtKey nat_target(const CtKey& other) { return other.reversed(); }

}  // namespace appliance
