#include "ct/ct_session.h"

#include <netinet/in.h>

namespace appliance {

namespace {
constexpr uint8_t kFin = 0x01, kSyn = 0x02, kRst = 0x04, kAck = 0x10;
}

uint32_t CtTimeouts::of(CtState s, uint8_t proto) const {
    switch (s) {
    case CtState::syn_sent: return tcp_syn_sent;
    case CtState::syn_recv: return tcp_syn_recv;
    case CtState::established: return tcp_established;
    case CtState::fin_wait: return tcp_fin_wait;
    case CtState::last_ack: return tcp_last_ack;
    case CtState::time_wait: return tcp_time_wait;
    case CtState::close: return tcp_close;
    default: break;
    }
    if (proto == IPPROTO_UDP || proto == IPPROTO_UDPLITE) return udp;
    if (proto == IPPROTO_ICMP || proto == IPPROTO_ICMPV6) return icmp;
    return other;
}

CtState ct_first_state(uint8_t proto, uint8_t flags) {
    if (proto != IPPROTO_TCP) return CtState::unreplied;
    if (flags & kRst) return CtState::close;
    // A SYN opens; anything else is a connection already under way (Linux's
    // nf_conntrack_tcp_loose: picked up mid-stream, e.g. across a restart).
    return (flags & (kSyn | kAck)) == kSyn ? CtState::syn_sent : CtState::established;
}

CtState ct_next_state(CtState now, uint8_t proto, CtDir dir, uint8_t flags, uint8_t* fins) {
    if (proto != IPPROTO_TCP) return dir == CtDir::reply ? CtState::replied : now;
    if (flags & kRst) return CtState::close;
    const bool orig = dir == CtDir::original;
    if (flags & kFin) *fins |= uint8_t(1u << unsigned(dir));
    switch (now) {
    case CtState::syn_sent:
        if (!orig && (flags & (kSyn | kAck)) == (kSyn | kAck)) return CtState::syn_recv;
        return now;
    case CtState::syn_recv:
        if (orig && (flags & (kSyn | kAck)) == kAck) return CtState::established;
        return now;
    case CtState::established:
        return (flags & kFin) ? CtState::fin_wait : now;
    case CtState::fin_wait:
        return *fins == 3 ? CtState::last_ack : now;
    case CtState::last_ack:
        // Both FINs sent: the ACK of the second ends it.
        return (flags & kAck) && !(flags & kFin) ? CtState::time_wait : now;
    case CtState::time_wait:
    case CtState::close:
        // A new SYN on the same tuple opens a new connection (port reuse).
        if (orig && (flags & (kSyn | kAck)) == kSyn) {
            *fins = 0;
            return CtState::syn_sent;
        }
        return now;
    default:
        return now;
    }
}

}  // namespace appliance
