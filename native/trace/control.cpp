#include "trace/control.h"

#include <rte_errno.h>
#include <rte_mbuf.h>

#include "core/errors.h"

namespace appliance {

namespace {
constexpr unsigned kCopies = 4095;  // ~9 MiB of hugepage memory, made at the first capture
}  // namespace

CaptureControl::~CaptureControl() { release(); }

void CaptureControl::release() {
    slot_.swap(nullptr);
    pool_.reset();
}

void CaptureControl::start(const CaptureSpec& spec) {
    const auto lock = ctl_.lock();
    if (slot_.live() != nullptr) throw StateError("a capture is running: stop it first");
    if (spec.ifaces.size() > ctl_.port_count())
        throw CaptureError("capture: more interfaces than there are");
    if (pool_ == nullptr) {
        const std::string name = "cap_" + tag_;
        rte_mempool* pool = rte_pktmbuf_pool_create(name.c_str(), kCopies, 64, kCaptureMetaBytes,
                                                    RTE_MBUF_DEFAULT_BUF_SIZE, SOCKET_ID_ANY);
        if (pool == nullptr)
            throw ResourceError("cannot make the capture's buffers (" + std::to_string(kCopies) +
                                " mbufs): " + dpdk_strerror(rte_errno));
        pool_ = std::shared_ptr<rte_mempool>(pool, rte_mempool_free);
    }
    auto capture = std::make_shared<Capture>(spec, pool_, "capr_" + tag_ + "_" + std::to_string(started_++));
    slot_.swap(std::move(capture));
    // Every worker has begun a loop since, so reads it: what arrives after start()
    // returns is captured (a worker in the middle of a loop still held "none").
    rcu_.synchronize();
}

std::shared_ptr<Capture> CaptureControl::current() const {
    std::shared_ptr<Capture> c = slot_.hold();
    if (c == nullptr) throw StateError("no capture is running");
    return c;
}

std::vector<CapturedPacket> CaptureControl::read(unsigned max) { return current()->read(max); }

CaptureStats CaptureControl::stats() { return current()->stats(); }

bool CaptureControl::done() { return current()->done(); }

void CaptureControl::stop() {
    const auto lock = ctl_.lock();
    std::shared_ptr<Capture> old = slot_.swap(nullptr);
    if (old != nullptr) rcu_.synchronize();  // no worker still holds its pointer
}

}  // namespace appliance
