#include "trace/trace.h"

#include <algorithm>
#include <cstring>

#include <rte_cycles.h>
#include <rte_errno.h>

#include "core/errors.h"
#include "trace/bpf_filter.h"

namespace appliance {

int g_trace_field = -1;

void trace_register_field() {
    static const rte_mbuf_dynfield field = {"appliance_trace_id", sizeof(uint32_t), alignof(uint32_t), 0};
    const int offset = rte_mbuf_dynfield_register(&field);
    if (offset < 0) throw ResourceError("cannot register the trace id mbuf field: " + dpdk_strerror(rte_errno));
    g_trace_field = offset;
}

namespace {
// Room a writer keeps for a packet it chooses: a routed packet writes ~6
// events, one with slow-path work a few more.
constexpr unsigned kEventsPerPacket = 24;
}  // namespace

// One writer's records: appended by it, read by the control side up to the
// published count (never rewritten: the log is as long as the trace).
struct Trace::Log {
    std::vector<TraceEvent> events;
    std::vector<TracePacket> heads;
    std::atomic<uint32_t> n_events{0}, n_heads{0};
    std::atomic<uint64_t> lost{0};

    Log(size_t events, size_t heads) : events(events), heads(heads) {}
    bool room_for_packet() const {
        return n_heads.load(std::memory_order_relaxed) < heads.size() &&
               n_events.load(std::memory_order_relaxed) + kEventsPerPacket <= events.size();
    }
};

Trace::Trace(const TraceSpec& spec, unsigned workers) : ifaces_(spec.ifaces), count_(spec.count) {
    if (count_ == 0) throw CaptureError("trace: count must be at least 1");
    if (!spec.match.empty()) match_ = std::make_unique<PacketFilter>(spec.match, 262144, "match");
    for (unsigned i = 0; i <= workers; ++i)
        logs_.push_back(std::make_unique<Log>(size_t(count_) * kEventsPerPacket, i < workers ? count_ : 0));
}

Trace::~Trace() = default;

bool Trace::choose(unsigned worker, uint16_t iface, uint16_t queue, rte_mbuf* const* pkts, uint16_t n) {
    // (A burst that returns false is not flagged: nothing reads its packets' ids.)
    if (chosen_.load(std::memory_order_relaxed) >= count_) return false;
    if (!ifaces_.empty() && (iface >= ifaces_.size() || ifaces_[iface] == 0)) return false;
    for (uint16_t i = 0; i < n; ++i) set_trace_id(pkts[i], 0);
    Log& log = *logs_[worker];
    bool any = false;
    for (uint16_t i = 0; i < n; ++i) {
        rte_mbuf* m = pkts[i];
        if (match_ != nullptr && !match_->matches(m)) continue;
        if (!log.room_for_packet()) break;
        const uint32_t number = chosen_.fetch_add(1, std::memory_order_relaxed) + 1;
        if (number > count_) break;  // (another worker took the last one)
        set_trace_id(m, number);
        const uint32_t slot = log.n_heads.load(std::memory_order_relaxed);
        TracePacket& h = log.heads[slot];
        h.tsc = rte_rdtsc();
        h.packet = number;
        h.wire_len = rte_pktmbuf_pkt_len(m);
        h.worker = uint16_t(worker);
        h.iface = iface;
        h.queue = queue;
        h.head_len = uint16_t(std::min<uint32_t>(sizeof h.head, rte_pktmbuf_data_len(m)));
        std::memcpy(h.head, rte_pktmbuf_mtod(m, const void*), h.head_len);
        log.n_heads.store(slot + 1, std::memory_order_release);
        any = true;
    }
    return any;
}

void Trace::note(unsigned writer, uint32_t packet, TraceStep step, uint8_t code, uint32_t a, uint32_t b,
                 const void* data, unsigned len) {
    Log& log = *logs_[writer];
    const uint32_t slot = log.n_events.load(std::memory_order_relaxed);
    if (slot == log.events.size()) {
        log.lost.fetch_add(1, std::memory_order_relaxed);
        return;
    }
    TraceEvent& e = log.events[slot];
    e.tsc = rte_rdtsc();
    e.packet = packet;
    e.worker = writer == slow_path() ? kTraceSlowPath : uint16_t(writer);
    e.step = step;
    e.code = code;
    e.a = a;
    e.b = b;
    std::memset(e.data, 0, sizeof e.data);
    if (data != nullptr) std::memcpy(e.data, data, std::min<unsigned>(len, sizeof e.data));
    log.n_events.store(slot + 1, std::memory_order_release);
}

std::vector<TracePacket> Trace::packets() const {
    std::vector<TracePacket> out;
    for (const auto& log : logs_) {
        const uint32_t n = log->n_heads.load(std::memory_order_acquire);
        out.insert(out.end(), log->heads.begin(), log->heads.begin() + n);
    }
    std::sort(out.begin(), out.end(), [](const TracePacket& x, const TracePacket& y) { return x.packet < y.packet; });
    return out;
}

std::vector<TraceEvent> Trace::events() const {
    std::vector<TraceEvent> out;
    for (const auto& log : logs_) {
        const uint32_t n = log->n_events.load(std::memory_order_acquire);
        out.insert(out.end(), log->events.begin(), log->events.begin() + n);
    }
    return out;
}

TraceStatus Trace::status() const {
    TraceStatus s;
    s.chosen = std::min(chosen_.load(std::memory_order_relaxed), count_);
    s.count = count_;
    for (const auto& log : logs_) s.lost += log->lost.load(std::memory_order_relaxed);
    return s;
}

}  // namespace appliance
