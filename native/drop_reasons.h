// The one list of drop reasons. Counters, the binding, the API and metric
// names all come from this X-macro, so a reason cannot exist in one and not
// in another.
#pragma once

#include <cstddef>

namespace appliance {

#define APPLIANCE_DROP_REASONS(X)                                               \
    X(no_route, "no LPM route or exact-match rule for the destination")         \
    X(ttl_expired, "TTL was 0 or 1 on arrival (RFC 1812 5.3.1)")                \
    X(malformed, "runt frame, bad IPv4 version, IHL or total length")           \
    X(bad_checksum, "IPv4 header checksum wrong (verification on)")             \
    X(not_ipv4, "EtherType is not IPv4 (ARP, IPv6, ... go to the slow path)")   \
    X(rule_drop, "an exact-match rule says drop")                               \
    X(nexthop_down, "the route's next hop is unset or its port is gone")        \
    X(tx_full, "the output queue was full when the burst was flushed")

enum class DropReason : unsigned {
#define APPLIANCE_DROP_ENUM(name, help) name,
    APPLIANCE_DROP_REASONS(APPLIANCE_DROP_ENUM)
#undef APPLIANCE_DROP_ENUM
    count_
};

constexpr std::size_t kDropReasonCount = static_cast<std::size_t>(DropReason::count_);

constexpr const char* kDropReasonNames[] = {
#define APPLIANCE_DROP_NAME(name, help) #name,
    APPLIANCE_DROP_REASONS(APPLIANCE_DROP_NAME)
#undef APPLIANCE_DROP_NAME
};

constexpr const char* kDropReasonHelp[] = {
#define APPLIANCE_DROP_HELP(name, help) help,
    APPLIANCE_DROP_REASONS(APPLIANCE_DROP_HELP)
#undef APPLIANCE_DROP_HELP
};

}  // namespace appliance
