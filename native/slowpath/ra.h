// Router advertisement settings of one interface (RFC 4861 6.2.1, RFC 8106).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/ip_addr.h"

namespace appliance {

struct RaSpec {
    std::string iface;                 // the interface's name
    uint32_t min_interval_ms = 200000;  // unsolicited RAs at a random time in [min, max]
    uint32_t max_interval_ms = 600000;
    uint16_t lifetime_s = 1800;  // router lifetime: 0 says "not a default router"
    uint8_t hop_limit = 64;      // the hop limit hosts should use (0: unspecified)
    bool managed = false;        // M: addresses by DHCPv6
    bool other = false;          // O: other configuration by DHCPv6
    bool on_link = true;         // L, on every prefix of the interface's addresses
    bool autonomous = true;      // A: hosts may form addresses in them (SLAAC)
    uint32_t valid_lifetime_s = 2592000;
    uint32_t preferred_lifetime_s = 604800;
    bool advertise_mtu = true;   // the interface's MTU
    std::vector<std::string> rdnss;  // recursive DNS servers (RFC 8106)
    uint32_t rdnss_lifetime_s = 1800;
};

}  // namespace appliance
