// What an ACL says, as the control side holds it: an ordered list of entries
// (first match decides) and the action when none matches. Every field left
// at its default matches anything.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/ip_addr.h"

namespace appliance {

enum class AclAction : uint8_t { permit, deny, reject, redirect };

struct AclEntry {
    uint8_t family = 0;       // 4 or 6 when a prefix or an ICMP protocol says so; 0: both
    IpAddr src{}, dst{};      // IPv4 as ::ffff:a.b.c.d (ip_addr.h)
    uint8_t src_len = 0, dst_len = 0;  // in the family's bits; 0: any
    int16_t proto = -1;       // -1: any
    uint16_t src_port_lo = 0, src_port_hi = 65535;  // TCP, UDP, SCTP
    uint16_t dst_port_lo = 0, dst_port_hi = 65535;
    int16_t icmp_type = -1, icmp_code = -1;          // ICMP or ICMPv6
    uint8_t tcp_flags = 0, tcp_mask = 0;             // (flags & mask) == value
    int16_t dscp = -1;
    int8_t fragment = -1;     // 1: only non-first fragments; 0: never them; -1: either
    AclAction action = AclAction::permit;
    uint32_t nexthop = 0;     // redirect: the next hop (or ECMP group) taken instead

    bool operator==(const AclEntry& o) const;
    // An entry about L4 fields cannot match a non-first fragment (no L4 header).
    bool has_l4() const;
    bool applies_to(unsigned fam) const { return family == 0 || family == fam; }
};

struct AclDef {
    std::vector<AclEntry> entries;
    AclAction default_action = AclAction::permit;  // never redirect
};

// Entry `index` as errors name it: "entry 17 (deny tcp ...)".
std::string describe_entry(const AclEntry& e, size_t index);
const char* action_name(AclAction a);

}  // namespace appliance
