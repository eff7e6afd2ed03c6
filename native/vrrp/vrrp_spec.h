// One VRRPv3 virtual router as configured (RFC 5798 5.2, 6.1): on an
// interface, for one family (IPv4 and IPv6 routers with the same VRID are
// two routers with two virtual MACs).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "vrrp/vrrp_machine.h"

namespace appliance {

struct VrrpTrack {
    std::string iface;      // while its link is down ...
    uint8_t decrement = 10;  // ... the priority is this much lower (never below 1)
};

struct VrrpSpec {
    std::string iface;
    uint8_t vrid = 1;                 // 1..255
    uint8_t priority = 100;           // 1..254, or 255: the addresses are the interface's own
    uint16_t interval_cs = 100;       // 1..4095 centiseconds (10 ms .. 40.95 s)
    bool preempt = true;
    uint32_t preempt_delay_ms = 0;
    bool accept = false;              // as master, take packets to the addresses (the owner always does)
    std::vector<std::string> addresses;  // one family
    std::vector<VrrpTrack> track;
};

struct VrrpInfo {
    uint16_t iface;
    uint8_t vrid;
    bool v6;
    VrrpSpec spec;
    VrrpState state;
    VrrpReason reason;
    uint8_t priority;            // effective: the configured one less what tracking takes
    uint16_t master_interval_cs;
    std::string master;          // the master's address as last heard ("" none; ours when master)
    uint8_t master_priority;
    uint64_t since_ms;           // in this state for
    uint64_t transitions, became_master, adverts_out, adverts_in, zero_out, zero_in;
};

struct VrrpEvent {
    uint64_t seq;
    uint64_t unix_ms;
    uint16_t iface;
    uint8_t vrid;
    bool v6;
    VrrpState from, to;
    VrrpReason reason;
    uint8_t priority;
};

}  // namespace appliance
