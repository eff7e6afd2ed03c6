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

// Key equality, word by word (the pad is always zero: five words).
inline bool ct_same(const CtKey& a, const CtKey& b) {
    uint64_t x[5], y[5];
    std::memcpy(x, &a, sizeof x);
    std::memcpy(y, &b, sizeof y);
    return ((x[0] ^ y[0]) | (x[1] ^ y[1]) | (x[2] ^ y[2]) | (x[3] ^ y[3]) | (x[4] ^ y[4])) == 0;
}

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
void ct_parse4_any(const uint8_t* ip, uint32_t len, uint16_t vrf, CtParsed& out);
void ct_parse6(const uint8_t* ip, uint32_t len, uint16_t vrf, CtParsed& out);

// The same, the common case inline: a first (or only) fragment of TCP or UDP
// with a 20-byte IPv4 header; anything else through ct_parse4_any().
inline void ct_parse4(const uint8_t* ip, uint32_t len, uint16_t vrf, CtParsed& out) {
    constexpr uint8_t kTcp = 6, kUdp = 17;
    const uint8_t proto = ip[9];
    const uint32_t need = proto == kTcp ? 20 + 14 : 20 + 8;  // up to TCP's flags, or UDP's header
    uint16_t frag;  // flags and offset, network order: the offset is 13 bits of it
    std::memcpy(&frag, ip + 6, 2);
    if (len < need || ip[0] != 0x45 || (frag & 0xff1f) != 0 || (proto != kTcp && proto != kUdp))
        return ct_parse4_any(ip, len, vrf, out);
    uint32_t src, dst, ports;
    std::memcpy(&src, ip + 12, 4);
    std::memcpy(&dst, ip + 16, 4);
    std::memcpy(&ports, ip + 20, 4);
    // Word by word: a local array copied whole would be stored in 8-byte
    // pieces and reloaded in 16-byte ones, which cannot be store-forwarded
    // (measured: 29 cycles a packet).
    const uint64_t w4 = ports | uint64_t(vrf) << 32 | uint64_t(proto) << 48;
    const uint64_t words[6] = {src, 0, dst, 0, w4, 0};
    auto* key = reinterpret_cast<char*>(&out.key);
    for (unsigned i = 0; i < 6; ++i) std::memcpy(key + 8 * i, &words[i], 8);
    out.kind = CtPacket::flow;
    out.tcp_flags = proto == kTcp ? ip[20 + 13] : 0;
}

}  // namespace appliance
