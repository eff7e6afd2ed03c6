// A connection's key: one direction's 5-tuple (and its VRF), both families in
// one 48-byte layout (a length rte_hash compares with SSE, not memcmp) (an IPv4 address in the first 4 bytes of its field, the
// rest zero), network byte order as read from the packet. ICMP and ICMPv6
// echo carry the identifier as both "ports" and whether it is a reply, so a
// reply's key is the request's reversed and a request coming the other way
// is not, as Linux tracks them (by type).
#pragma once

#include <cstdint>
#include <cstring>

namespace appliance {

// 8-byte aligned: rte_hash_crc reads it 8 bytes at a time.
struct alignas(8) CtKey {
    uint8_t src[16];
    uint8_t dst[16];
    uint16_t sport;
    uint16_t dport;
    uint16_t vrf;
    uint8_t proto;
    uint8_t v6 : 1;
    uint8_t echo_reply : 1;  // ICMP/ICMPv6 echo: a reply (the reversed key of a request's)
    uint8_t unused : 6;
    uint8_t pad[8];  // zero

    CtKey reversed() const {
        CtKey r = *this;
        std::memcpy(r.src, dst, 16);
        std::memcpy(r.dst, src, 16);
        r.sport = dport;
        r.dport = sport;
        if (echo()) r.echo_reply = !echo_reply;
        return r;
    }
    bool echo() const { return proto == 1 || proto == 58; }  // (other ICMP is not a flow)
};
static_assert(sizeof(CtKey) == 48, "CtKey must stay 48 bytes (the hash key)");

// What a packet is to connection tracking.
enum class CtPacket : uint8_t {
    flow,       // TCP, UDP, ICMP echo, or another protocol (ports 0): a key
    icmp_error, // an ICMP/ICMPv6 error: `key` is its quoted packet's, as sent
    fragment,   // a non-first fragment: no ports to read (its first fragment was checked)
    untracked,  // too short to read, or ICMP that is neither echo nor error
};

struct CtParsed {
    CtKey key;
    CtPacket kind;
    uint8_t tcp_flags;  // TCP only
};

// Reads the key of the IP packet at `ip` (`len` bytes of it in the buffer)
// into `out` (in place: a burst's keys are written where they are looked up).
// `vrf` goes in the key.
void ct_parse4(const uint8_t* ip, uint32_t len, uint16_t vrf, CtParsed& out);
void ct_parse6(const uint8_t* ip, uint32_t len, uint16_t vrf, CtParsed& out);

}  // namespace appliance
