// Per-packet trace (`appliance trace`): for packets chosen at rx (by
// interface and an optional tcpdump expression, up to a count), each stage
// that decides something about them writes one event: input checks, NAT,
// route lookup, exact-match rules, ACLs, conntrack, ECMP member, output,
// tx, drop (with its reason), punt, and what the slow path did.
//
// Cheap by construction: a worker loads the running trace once a loop; with
// one, it chooses at rx and sets a per-burst flag (WorkerContext::tracing),
// and stages look at a packet's trace id (an mbuf dynamic field) only in a
// burst with the flag. Events go to a bounded log per writer (each worker,
// and the slow path); when the count is reached or a log is full, no more
// packets are chosen: tracing stops, forwarding never waits.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include <rte_mbuf.h>
#include <rte_mbuf_dyn.h>

#include "trace/bpf_filter.h"
#include "trace/live_slot.h"


namespace appliance {

enum class TraceStep : uint8_t {
    input,      // code 4 / 6: passed that family's input checks
    nat,        // after destination NAT: data holds the IPv4 tuple
    lookup,     // a: the next hop id found (kNoRoute: none), b: the VRF; code: family; data: TraceHop
    rule,       // a: the next hop id an exact-match rule put in its place; data: TraceHop
    acl,        // code: 0 in, 1 out; a: result (0: the default, else entry + 1); b: interface
    conntrack,  // code: CtState (kTraceNoSession: none); b: direction; data: the IPv4 tuple after
    member,     // a: the equal-cost group's member taken; data: TraceHop
    output,     // a: interface (the tx batch's port); b: EtherType (inside a tag); code: 1 made
                // by the slow path; data: the frame's first 16 bytes
    tx,         // code: 1 sent, 0 the queue was full
    drop,       // code: DropReason; a: interface
    punt,       // code: PuntKind; a: next hop id
    slow,       // code: TraceSlow; a, b and data: its details
};
constexpr const char* kTraceStepNames[] = {"input", "nat", "lookup", "rule", "acl", "conntrack", "member",
                                           "output", "tx", "drop", "punt", "slow"};

// What the slow path did with a traced packet (TraceStep::slow).
enum class TraceSlow : uint8_t {
    held,        // waiting for a neighbour: a = interface, data = its address (16 bytes, v4-mapped for IPv4)
    icmp_error,  // answered with an ICMP(v6) error: a = type, b = code
    local,       // for one of our addresses: answered here (echo, ARP, ND)
    to_kernel,   // handed to the interface's kernel interface: a = interface
    icmp_limited,  // an ICMP(v6) error not sent: over the rate limit; a = type, b = code
};
constexpr const char* kTraceSlowNames[] = {"held", "icmp_error", "local", "to_kernel", "icmp_limited"};

constexpr uint8_t kTraceNoSession = 0xff;
constexpr uint16_t kTraceSlowPath = 0xffff;  // TraceEvent::worker of the slow path's events

struct TraceEvent {
    uint64_t tsc;
    uint32_t packet;  // the trace's packet number (1, 2, ...)
    uint16_t worker;  // who wrote it: a worker's index, or kTraceSlowPath
    TraceStep step;
    uint8_t code;
    uint32_t a, b;
    uint8_t data[16];
};

// A chosen packet as it arrived.
struct TracePacket {
    uint64_t tsc;
    uint32_t packet;
    uint32_t wire_len;
    uint16_t worker, iface, queue;
    uint16_t head_len;
    uint8_t head[128];  // its first bytes
};

struct TraceSpec {
    std::vector<uint8_t> ifaces;  // per interface: 1 to trace what it receives; empty: all
    uint32_t count = 16;          // packets to trace
    std::string match;            // a tcpdump expression; "": every packet
};

struct TraceStatus {
    uint32_t chosen = 0, count = 0;
    uint64_t lost = 0;  // events that found their log full
};

// The trace id of a packet (0: not traced), valid in a burst with
// WorkerContext::tracing and on every packet the slow path holds.
extern int g_trace_field;
inline uint32_t trace_id(const rte_mbuf* m) { return *RTE_MBUF_DYNFIELD(m, g_trace_field, const uint32_t*); }
inline void set_trace_id(rte_mbuf* m, uint32_t id) { *RTE_MBUF_DYNFIELD(m, g_trace_field, uint32_t*) = id; }
void trace_register_field();  // after rte_eal_init; ResourceError if DPDK refuses

class Trace {
public:
    // CaptureError for a match libpcap refuses. `writers`: the workers, then the slow path.
    Trace(const TraceSpec& spec, unsigned workers);
    ~Trace();
    Trace(const Trace&) = delete;
    Trace& operator=(const Trace&) = delete;

    // ---- workers and the slow path (a writer each; the slow path is `workers`) ----
    // Records the packets chosen and sets every packet's trace id (0, or a new
    // number for those chosen); true when one was (else the ids are not set).
    bool choose(unsigned worker, uint16_t iface, uint16_t queue, rte_mbuf* const* pkts, uint16_t n);
    void note(unsigned writer, uint32_t packet, TraceStep step, uint8_t code, uint32_t a = 0,
              uint32_t b = 0, const void* data = nullptr, unsigned len = 0);
    unsigned slow_path() const { return unsigned(logs_.size() - 1); }

    // ---- the control side ----
    std::vector<TracePacket> packets() const;  // by packet number
    std::vector<TraceEvent> events() const;    // by writer, each in its order
    TraceStatus status() const;

private:
    struct Log;
    std::vector<uint8_t> ifaces_;
    uint32_t count_;
    std::unique_ptr<PacketFilter> match_;  // nullptr: every packet
    std::atomic<uint32_t> chosen_{0};
    std::vector<std::unique_ptr<Log>> logs_;
};

using TraceSlot = LiveSlot<Trace>;

}  // namespace appliance
