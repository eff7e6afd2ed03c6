// The virtual MACs an interface answers to while it is VRRP master, as the
// workers read them: a frame to one is the router's as if sent to the port's
// own MAC, so the stage rewrites its destination to that MAC before the input
// checks and everything after is the common path (the rewrite stage puts new
// MACs on whatever is forwarded). The slow path writes, workers read relaxed:
// a frame racing a transition is taken or left as either state would.
#pragma once

#include <atomic>
#include <cstdint>
#include <cstring>

#include <rte_ether.h>
#include <rte_mbuf.h>

namespace appliance {

constexpr unsigned kVrrpMacsPerIface = 8;  // masters at once on one interface (v4 and v6)

struct alignas(64) VrrpMacs {
    std::atomic<uint8_t> active{0};     // masters on the interface: any mac[] set
    std::atomic<uint8_t> configured{0};  // virtual routers on it: VRRP is punted to the slow path
    std::atomic<uint64_t> mac[kVrrpMacsPerIface] = {};  // a frame's first 6 bytes little-endian; 0: none
};

inline uint64_t vrrp_mac48(const rte_ether_addr& mac) {
    uint64_t v = 0;
    std::memcpy(&v, mac.addr_bytes, RTE_ETHER_ADDR_LEN);
    return v;
}

// Frames of the burst addressed to one of `macs`: to `port_mac` instead.
inline void vrrp_mac_stage(const VrrpMacs& macs, uint64_t port_mac, rte_mbuf** pkts, uint16_t n) {
    uint64_t want[kVrrpMacsPerIface];
    for (unsigned k = 0; k < kVrrpMacsPerIface; ++k) want[k] = macs.mac[k].load(std::memory_order_relaxed);
    for (uint16_t i = 0; i < n; ++i) {
        if (rte_pktmbuf_data_len(pkts[i]) < RTE_ETHER_ADDR_LEN) continue;  // (input drops it)
        auto* dst = rte_pktmbuf_mtod(pkts[i], uint8_t*);
        uint64_t d = 0;
        std::memcpy(&d, dst, RTE_ETHER_ADDR_LEN);
        for (unsigned k = 0; k < kVrrpMacsPerIface; ++k)
            if (want[k] != 0 && d == want[k]) {
                std::memcpy(dst, &port_mac, RTE_ETHER_ADDR_LEN);
                break;
            }
    }
}

}  // namespace appliance
