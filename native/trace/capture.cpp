#include "trace/capture.h"

#include <cstring>

#include <rte_errno.h>
#include <rte_mbuf.h>
#include <rte_ring.h>

#include "core/errors.h"
#include "trace/bpf_filter.h"

namespace appliance {

namespace {

constexpr unsigned kRingSize = 4096;

// What a copy carries beside its bytes: in the pool's private area.
struct CopyMeta {
    uint64_t tsc;
    uint32_t wire_len;
    uint16_t iface;
    uint8_t what;
    uint8_t reason;
    uint16_t worker;
};

static_assert(sizeof(CopyMeta) <= kCaptureMetaBytes, "the copy pool's private area holds CopyMeta");

CopyMeta& meta_of(rte_mbuf* m) { return *static_cast<CopyMeta*>(rte_mbuf_to_priv(m)); }

}  // namespace

Capture::Capture(const CaptureSpec& spec, std::shared_ptr<rte_mempool> pool, const std::string& name)
    : ifaces_(spec.ifaces), reasons_(spec.reasons), snaplen_(spec.snaplen), count_(spec.count),
      pool_(std::move(pool)) {
    if (snaplen_ == 0) throw CaptureError("snaplen must be at least 1 byte");
    if (!spec.filter.empty()) filter_ = std::make_unique<PacketFilter>(spec.filter, snaplen_, "filter");
    ring_ = rte_ring_create(name.c_str(), kRingSize, SOCKET_ID_ANY, RING_F_SC_DEQ);
    if (ring_ == nullptr) {
        throw ResourceError("cannot make the capture ring: " + dpdk_strerror(rte_errno));
    }
}

Capture::~Capture() {
    rte_mbuf* m;
    while (rte_ring_sc_dequeue(ring_, reinterpret_cast<void**>(&m)) == 0) rte_pktmbuf_free(m);
    rte_ring_free(ring_);
}

void Capture::take(rte_mbuf* const* pkts, uint16_t n, uint16_t iface, CaptureWhat what, uint16_t worker,
                   DropReason why) const {
    const uint64_t now = rte_rdtsc();
    for (uint16_t i = 0; i < n; ++i) {
        rte_mbuf* m = pkts[i];
        if (filter_ != nullptr && !filter_->matches(m)) {
            filtered_.fetch_add(1, std::memory_order_relaxed);
            continue;
        }
        // The count is a bound, not exact: workers race for the last ones.
        if (count_ != 0 && copied_.load(std::memory_order_relaxed) >= count_) return;
        rte_mbuf* copy = rte_pktmbuf_copy(m, pool_.get(), 0, snaplen_);
        if (copy == nullptr) {
            lost_.fetch_add(1, std::memory_order_relaxed);
            continue;
        }
        meta_of(copy) = {now, rte_pktmbuf_pkt_len(m), iface, uint8_t(what), uint8_t(why), worker};
        if (rte_ring_mp_enqueue(ring_, copy) != 0) {
            rte_pktmbuf_free(copy);
            lost_.fetch_add(1, std::memory_order_relaxed);
            continue;
        }
        copied_.fetch_add(1, std::memory_order_relaxed);
    }
}

std::vector<CapturedPacket> Capture::read(unsigned max) const {
    std::vector<CapturedPacket> out;
    rte_mbuf* burst[64];
    while (out.size() < max) {
        const unsigned n = rte_ring_sc_dequeue_burst(ring_, reinterpret_cast<void**>(burst),
                                                     std::min<unsigned>(64, max - unsigned(out.size())), nullptr);
        if (n == 0) break;
        for (unsigned i = 0; i < n; ++i) {
            const CopyMeta& c = meta_of(burst[i]);
            CapturedPacket p{c.tsc, c.wire_len, c.iface, c.what, c.reason, c.worker, {}};
            p.bytes.resize(rte_pktmbuf_pkt_len(burst[i]));
            const void* data = rte_pktmbuf_read(burst[i], 0, uint32_t(p.bytes.size()), p.bytes.data());
            if (data != p.bytes.data()) std::memcpy(p.bytes.data(), data, p.bytes.size());
            out.push_back(std::move(p));
        }
        rte_pktmbuf_free_bulk(burst, n);
    }
    return out;
}

CaptureStats Capture::stats() const {
    return {copied_.load(std::memory_order_relaxed), filtered_.load(std::memory_order_relaxed),
            lost_.load(std::memory_order_relaxed)};
}

bool Capture::done() const { return count_ != 0 && copied_.load(std::memory_order_relaxed) >= count_; }

}  // namespace appliance
