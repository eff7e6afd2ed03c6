// The virtual MACs an interface answers to while it is VRRP master, as the
// workers read them: a frame to one is the router's as if sent to the port's
// own MAC. The input stage compares each frame's destination with the port's
// MAC and the first two masters' (an interface's IPv4 and IPv6 routers, the
// common case) inline; the exact verdict of the exception path checks them
// all. The frame itself is not rewritten: a store into the header the input
// stage then loads wider defeats store forwarding (measured: 0.81 of the
// common path, bench/vrrp_forwarding.py). The slow path writes, workers read
// relaxed: a frame racing a transition is taken or left as either state would.
#pragma once

#include <atomic>
#include <cstdint>
#include <cstring>

#include <rte_ether.h>

namespace appliance {

constexpr unsigned kVrrpMacsPerIface = 8;  // masters at once on one interface (v4 and v6)
constexpr uint64_t kNoVrrpMac = ~0ull;     // matches no frame (a MAC is 48 bits)

struct alignas(64) VrrpMacs {
    std::atomic<uint8_t> active{0};     // masters on the interface: any mac[] set
    std::atomic<uint8_t> configured{0};  // virtual routers on it: VRRP is punted to the slow path
    // A frame's first 6 bytes little-endian; 0: none. Filled from the first slot.
    std::atomic<uint64_t> mac[kVrrpMacsPerIface] = {};
};

inline uint64_t vrrp_mac48(const rte_ether_addr& mac) {
    uint64_t v = 0;
    std::memcpy(&v, mac.addr_bytes, RTE_ETHER_ADDR_LEN);
    return v;
}

// The two virtual MACs the input stage compares inline (kNoVrrpMac: none).
struct InlineVrrpMacs {
    uint64_t a = kNoVrrpMac, b = kNoVrrpMac;
    bool any() const { return a != kNoVrrpMac || b != kNoVrrpMac; }
};

inline InlineVrrpMacs inline_vrrp_macs(const VrrpMacs& m) {
    InlineVrrpMacs v;
    if (m.active.load(std::memory_order_relaxed) == 0) return v;
    const uint64_t a = m.mac[0].load(std::memory_order_relaxed);
    const uint64_t b = m.mac[1].load(std::memory_order_relaxed);
    v.a = a != 0 ? a : kNoVrrpMac;
    v.b = b != 0 ? b : kNoVrrpMac;
    return v;
}

// `dst` (a frame's first 6 bytes, little-endian) is a master's virtual MAC.
inline bool vrrp_mac_taken(const VrrpMacs& m, uint64_t dst) {
    if (m.active.load(std::memory_order_relaxed) == 0) return false;
    for (unsigned k = 0; k < kVrrpMacsPerIface; ++k) {
        const uint64_t mac = m.mac[k].load(std::memory_order_relaxed);
        if (mac != 0 && mac == dst) return true;
    }
    return false;
}

}  // namespace appliance
