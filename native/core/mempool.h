// Packet buffer pools, one per NUMA socket in use, freed with their owner.
#pragma once

#include <cstdint>
#include <string>

struct rte_mempool;

namespace appliance {

// Per-lcore mempool cache. l3fwd uses 256; it must be <= n / 1.5.
constexpr unsigned kMempoolCacheSize = 256;
constexpr unsigned kBurstSize = 32;
// The slow path: each worker's punt ring and the one return ring hold up to
// this many, and all neighbours' hold queues together at most kMaxHeldPackets.
constexpr unsigned kSlowRingSize = 1024;
constexpr unsigned kMaxHeldPackets = 1024;

// What a socket's pool must hold so rx never starves while every other
// buffer is somewhere legitimate:
//   sum over its ports of (rx_queues * rx_desc + tx_queues * tx_desc)
//   (ring ports count their ring capacity the same way)
// + workers * (kMempoolCacheSize            per-lcore cache
//              + kBurstSize                 the rx burst being processed
//              + ports * kBurstSize)        per-port tx buffers
// + main-lcore cache + a burst, for injection and control traffic
// + the slow path: workers * punt ring + return ring + held packets.
struct MempoolDemand {
    uint64_t descriptors = 0;  // sum of rx and tx descriptors on the socket
    unsigned workers = 0;
    unsigned ports = 0;
};
uint64_t mbufs_needed(const MempoolDemand& d);

class Mempool {
public:
    // Throws ResourceError naming the pool, the count and the EAL reason.
    Mempool(const std::string& name, uint64_t mbufs, int socket);
    ~Mempool();
    Mempool(const Mempool&) = delete;
    Mempool& operator=(const Mempool&) = delete;

    rte_mempool* get() const { return pool_; }
    unsigned size() const;
    unsigned in_use() const;

private:
    rte_mempool* pool_ = nullptr;
};

}  // namespace appliance
