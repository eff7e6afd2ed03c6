// The one list of drop reasons. Counters, the binding, the API and metric
// names all come from this X-macro, so a reason cannot exist in one and not
// in another. Workers and the slow path count into the same list.
#pragma once

#include <cstddef>

namespace appliance {

#define APPLIANCE_DROP_REASONS(X)                                                           \
    X(no_route, "no LPM route or exact-match rule for the destination")                     \
    X(ttl_expired, "TTL or hop limit was 0 or 1 and the packet was not for us")              \
    X(malformed, "runt frame, bad IP version, IHL, total or payload length, or option")     \
    X(bad_checksum, "IPv4 header checksum wrong (verification on)")                         \
    X(not_ipv4, "to the port's MAC, and EtherType is neither IPv4, IPv6 nor ARP")          \
    X(rule_drop, "an exact-match rule says drop")                                           \
    X(nexthop_down, "the route's next hop is unset or its port is gone")                    \
    X(tx_full, "the output queue was full when the burst was flushed")                      \
    X(other_host, "unicast frame addressed to another MAC (RFC 1812 5.3.4)")                \
    X(link_broadcast, "link-layer broadcast or multicast frame not for the router (RFC 1812 5.3.4)") \
    X(martian_source, "source in 0/8, 127/8, 224/4, 240/4; ::, ::1, ff00::/8, ::ffff:0:0/96") \
    X(martian_destination, "destination in 0/8, 127/8, 240/4, 255.255.255.255; ::, ::1, ::ffff:0:0/96") \
    X(multicast_destination, "multicast destination (no multicast routing)")                \
    X(link_local, "IPv6 link-local source or destination: never forwarded (RFC 4291 2.5.6)") \
    X(local_unhandled, "for one of our addresses; nothing here answers it, no kernel interface") \
    X(vrrp_not_accepted, "to a VRRP master's virtual address, without accept mode (RFC 5798 6.4.3)") \
    X(vrrp_ignored, "a VRRP advertisement failing RFC 5798 7.1's checks, or for no virtual router here") \
    X(source_route, "carries a source route option (not honoured, as Linux by default)")   \
    X(fragmentation_needed, "over the egress MTU with DF set (ICMP sent)")                  \
    X(neighbor_unreachable, "the next hop's neighbour did not answer ARP")                  \
    X(hold_queue_full, "queued for an unresolved neighbour, pushed out by newer packets")   \
    X(punt_full, "the slow path's queue was full")                                          \
    X(no_mbuf, "the slow path could not allocate a buffer")                               \
    X(kernel_full, "the port's kernel interface did not take a packet for it")                \
    X(blackhole, "a blackhole route from the kernel table (route_sync)")                   \
    X(route_unreachable, "an unreachable route from the kernel table (ICMP sent)")        \
    X(route_prohibited, "a prohibit route from the kernel table (ICMP sent)")            \
    X(acl_deny, "an ACL entry (or its default) said deny")                                  \
    X(acl_reject, "an ACL entry (or its default) said reject (ICMP administratively prohibited sent)") \
    X(unknown_vlan, "802.1Q-tagged for a VLAN the port has no sub-interface for")          \
    X(not_established, "came in on a stateful interface and is of no session started from the inside") \
    X(conntrack_full, "would start a session and the connection table is full")              \
    X(nat_no_port, "would start a translated session and its public address has no port free")

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
