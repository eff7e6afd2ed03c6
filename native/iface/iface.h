// L3 interfaces: each port is one, and each of its 802.1Q VLAN sub-interfaces
// (`wan0.100`) is another, with its own addresses, MTU, neighbours, ACLs,
// kernel interface and counters. Everything past the rx burst (the slow path,
// next hops, ACL bindings) speaks of interfaces by index: the ports first, in
// their order, then the sub-interfaces in the spec's order.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <rte_common.h>

namespace appliance {

constexpr uint16_t kMaxVlan = 4094;      // 0 is a priority tag, 4095 reserved (802.1Q)
constexpr uint16_t kUnknownVlan = 0xffff;  // in a port's VLAN map: no such sub-interface

// A VLAN sub-interface of a port, as configured.
struct VlanSpec {
    std::string port;  // the port's name
    uint16_t vlan = 0;  // 1..4094
    uint16_t mtu = 0;   // 0: the port's
    std::string kernel;  // non-empty: a kernel interface of this name (a net_tap of its own)
    std::string vrf;     // empty: the default VRF
};

struct Iface {
    std::string name;    // "wan0", "wan0.100"
    uint16_t port;       // the port's index
    uint16_t vlan;       // 0: the port itself
    uint16_t mtu;
    std::string kernel;  // its kernel interface ("" if none): a net_tap of its own
    std::string vrf;     // its VRF's name ("": the default one)
    uint16_t vrf_index = 0;  // (vrf/vrfs.h)
};

// Counted by workers for sub-interfaces (a port's own are its ethdev counters,
// which include its sub-interfaces' frames, as Linux counts a VLAN's parent).
struct IfaceCounters {
    uint64_t rx_packets, rx_bytes, tx_packets, tx_bytes;
};

struct IfaceSnapshot {
    Iface iface;
    IfaceCounters counters;
};

}  // namespace appliance
