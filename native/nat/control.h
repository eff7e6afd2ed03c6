// NAT44 in the control API: the rules (per interface, and the forwards) set
// as a whole, the public addresses' port use and the mapping counters.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "core/control.h"
#include "ct/ct_table.h"
#include "nat/nat_table.h"

namespace appliance {

struct NatIfaceSpec {
    std::string source;  // "masquerade" or "pool" ("" none)
    std::vector<std::string> addresses;  // IPv4: masquerade's one, or the pool's
    uint16_t port_lo = 1024, port_hi = 65535;
};

struct NatForwardSpec {
    std::string iface;
    std::string proto;  // "tcp", "udp", or "" (1:1 static NAT)
    std::string public_addr;
    uint16_t public_port = 0;
    std::string to_addr;
    uint16_t to_port = 0;  // 0: the public port
};

class NatControl {
public:
    NatControl(const ControlContext& ctl, CtTable* ct, NatTable* nat) : ctl_(ctl), ct_(ct), nat_(nat) {}

    // Replaces every rule at once; sessions already translated keep theirs.
    void set(const std::map<std::string, NatIfaceSpec>& ifaces, const std::vector<NatForwardSpec>& forwards);
    std::vector<NatPortUse> port_use();
    NatStats stats();

private:
    const ControlContext& ctl_;
    CtTable* ct_;
    NatTable* nat_;
};

}  // namespace appliance
