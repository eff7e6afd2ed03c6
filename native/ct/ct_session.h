// A tracked connection: its two keys (the original direction, as its first
// packet went, and the reply's), its state and when it was last seen. Any
// worker may see either direction, so the fields workers write are atomics;
// a session's keys are written once, before it is published in the table.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>

#include "ct/ct_key.h"

namespace appliance {

// TCP as Linux's conntrack follows it (nf_conntrack_proto_tcp.c), without the
// window checks; UDP, ICMP and others by whether a reply was seen.
#define APPLIANCE_CT_STATES(X)                                                    \
    X(syn_sent, "TCP: a SYN went out, no answer yet")                              \
    X(syn_recv, "TCP: the SYN was answered (SYN+ACK)")                             \
    X(established, "TCP: the handshake completed, or picked up mid-stream")       \
    X(fin_wait, "TCP: one side sent FIN")                                          \
    X(last_ack, "TCP: both sides sent FIN")                                        \
    X(time_wait, "TCP: closed by both FINs, the last acknowledged")                \
    X(close, "TCP: reset (RST)")                                                   \
    X(unreplied, "UDP, ICMP echo, other: packets one way only so far")             \
    X(replied, "UDP, ICMP echo, other: both ways")

enum class CtState : uint8_t {
#define APPLIANCE_CT_STATE_ENUM(name, help) name,
    APPLIANCE_CT_STATES(APPLIANCE_CT_STATE_ENUM)
#undef APPLIANCE_CT_STATE_ENUM
    count_
};
constexpr unsigned kCtStateCount = static_cast<unsigned>(CtState::count_);
constexpr const char* kCtStateNames[] = {
#define APPLIANCE_CT_STATE_NAME(name, help) #name,
    APPLIANCE_CT_STATES(APPLIANCE_CT_STATE_NAME)
#undef APPLIANCE_CT_STATE_NAME
};

// Seconds a session lives idle in each state. The defaults are Linux's, but
// no shorter than the BEHAVE minimums (RFC 5382 REQ-5: established 2 h 4 min,
// transitory 4 min; RFC 4787 REQ-5: UDP 2 min).
struct CtTimeouts {
    uint32_t tcp_syn_sent = 240, tcp_syn_recv = 240, tcp_established = 7440, tcp_fin_wait = 240,
             tcp_last_ack = 240, tcp_time_wait = 240, tcp_close = 10;
    uint32_t udp = 120;
    uint32_t icmp = 30;
    uint32_t other = 600;

    uint32_t of(CtState s, uint8_t proto) const;  // seconds
};

enum class CtDir : uint8_t { original = 0, reply = 1 };

// A lookup by the original key reads the first cache line only (the state
// and the key it compares); by the reply key, both.
struct alignas(64) CtSession {
    std::atomic<uint64_t> last_ms{0};  // the last packet either way (worker clock)
    std::atomic<uint8_t> state{0};     // a CtState
    std::atomic<uint8_t> fins{0};      // TCP: bit per direction that sent FIN
    std::atomic<uint8_t> live{0};      // published in the table (the sweeper's test)
    uint8_t translated = 0;            // NAT: key[1] is not key[0] reversed
    uint32_t mapping = ~0u;            // NAT: the mapping it holds (nat/nat_table.h), or none
    CtKey key[2];                      // by CtDir
    uint64_t created_ms = 0;

    uint8_t proto() const { return key[0].proto; }
};
static_assert(offsetof(CtSession, key) == 16 && sizeof(CtSession) == 128,
              "the original key in the first cache line, the reply's in the second");

// The state after a packet of `dir` with TCP `flags` (0 for other protocols).
CtState ct_next_state(CtState now, uint8_t proto, CtDir dir, uint8_t flags, uint8_t* fins);
// The state a session starts in from its first packet.
CtState ct_first_state(uint8_t proto, uint8_t flags);

}  // namespace appliance
