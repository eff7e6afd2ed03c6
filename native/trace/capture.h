// Packet capture (`appliance capture`): copies of what interfaces receive and
// send, and of what the router drops (with the reason), chosen where the
// packet is (a worker, or the slow path) by interface, direction, drop reason
// and an optional tcpdump filter, which libpcap compiles and runs on
// the original before anything is copied. Copies go through a ring to the
// control side, which writes the pcapng (appliance/capture.py).
//
// Workers see the running capture through one pointer read per loop; with
// none, that load and a branch a burst is all it costs. A full ring or an
// empty copy pool loses the copy (counted), never the packet.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "core/drop_reasons.h"
#include "trace/bpf_filter.h"
#include "trace/live_slot.h"

struct rte_mbuf;
struct rte_mempool;
struct rte_ring;

namespace appliance {

enum CaptureWhat : uint8_t { kCaptureIn = 1, kCaptureOut = 2, kCaptureDrops = 4 };

struct CaptureSpec {
    std::vector<uint8_t> ifaces;  // per interface: CaptureWhat bits
    uint64_t reasons = 0;         // with kCaptureDrops: a bit per DropReason; 0: every reason
    uint32_t snaplen = 262144;    // bytes kept of each packet
    uint64_t count = 0;           // stop copying after this many (0: no limit)
    std::string filter;           // a tcpdump (pcap-filter) expression; "": every packet
};

// A copy and what it was: the control side's view.
struct CapturedPacket {
    uint64_t tsc;          // when it was copied (the TSC)
    uint32_t wire_len;     // the packet's length (the copy may be cut to snaplen)
    uint16_t iface;        // in: where it came in; out: where it left; drop: where it came in
    uint8_t what;          // kCaptureIn, kCaptureOut or kCaptureDrops
    uint8_t reason;        // drops: a DropReason
    uint16_t worker;       // which worker saw it; kSlowPath for the slow path
    std::string bytes;
};

struct CaptureStats {
    uint64_t copied = 0;    // handed to the ring
    uint64_t filtered = 0;  // refused by the filter
    uint64_t lost = 0;      // no copy buffer, or the ring full
};

constexpr uint16_t kSlowPath = 0xffff;
constexpr uint16_t kCaptureMetaBytes = 24;  // a copy's private area (the copy pool's priv_size)  // CapturedPacket::worker of the slow path's packets

class Capture {
public:
    // CaptureError (naming what is wrong) for a filter libpcap refuses. The copies'
    // pool is shared: it outlives the last capture holding copies of it.
    Capture(const CaptureSpec& spec, std::shared_ptr<rte_mempool> pool, const std::string& name);
    ~Capture();
    Capture(const Capture&) = delete;
    Capture& operator=(const Capture&) = delete;

    // ---- workers and the slow path ----
    bool wants(uint16_t iface, CaptureWhat what) const { return iface < ifaces_.size() && (ifaces_[iface] & what); }
    bool wants_drop(uint16_t iface, DropReason why) const {
        return wants(iface, kCaptureDrops) && (reasons_ == 0 || (reasons_ >> unsigned(why) & 1));
    }
    // Copies those of `pkts` the filter takes.
    void take(rte_mbuf* const* pkts, uint16_t n, uint16_t iface, CaptureWhat what, uint16_t worker,
              DropReason why = DropReason::count_) const;

    // ---- the control side ----
    // Up to `max` copies (their bytes), oldest first.
    std::vector<CapturedPacket> read(unsigned max) const;
    CaptureStats stats() const;
    bool done() const;  // `count` copies made

private:
    std::vector<uint8_t> ifaces_;
    uint64_t reasons_;
    uint32_t snaplen_;
    uint64_t count_;
    std::unique_ptr<PacketFilter> filter_;  // nullptr: every packet
    std::shared_ptr<rte_mempool> pool_;
    rte_ring* ring_ = nullptr;
    mutable std::atomic<uint64_t> copied_{0}, filtered_{0}, lost_{0};
};

// The running capture (trace/live_slot.h).
using CaptureSlot = LiveSlot<Capture>;

}  // namespace appliance
