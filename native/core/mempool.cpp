#include "core/mempool.h"

#include <rte_errno.h>
#include <rte_mbuf.h>
#include <rte_mempool.h>

#include "core/errors.h"

namespace appliance {

uint64_t mbufs_needed(const MempoolDemand& d) {
    uint64_t per_worker = kMempoolCacheSize + kBurstSize + uint64_t(d.ports) * kBurstSize;
    uint64_t main_lcore = kMempoolCacheSize + kBurstSize;
    uint64_t slow_path = uint64_t(d.workers + 1) * kSlowRingSize + kMaxHeldPackets;
    return d.descriptors + d.workers * per_worker + main_lcore + slow_path;
}

Mempool::Mempool(const std::string& name, uint64_t mbufs, int socket) {
    if (mbufs > UINT32_MAX)
        throw ResourceError("mempool " + name + ": " + std::to_string(mbufs) + " mbufs is too many");
    pool_ = rte_pktmbuf_pool_create(name.c_str(), static_cast<unsigned>(mbufs), kMempoolCacheSize,
                                    0, RTE_MBUF_DEFAULT_BUF_SIZE, socket);
    if (pool_ == nullptr)
        throw ResourceError("cannot create mempool " + name + " of " + std::to_string(mbufs) +
                          " mbufs (" +
                          std::to_string(mbufs * (RTE_MBUF_DEFAULT_BUF_SIZE + 128) >> 20) +
                          " MiB) on socket " + std::to_string(socket) + ": " +
                          dpdk_strerror(rte_errno) +
                          "; reserve more hugepages or lower descriptor counts");
}

Mempool::~Mempool() { rte_mempool_free(pool_); }

unsigned Mempool::size() const { return pool_->size; }

unsigned Mempool::in_use() const { return rte_mempool_in_use_count(pool_); }

}  // namespace appliance
