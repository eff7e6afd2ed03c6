// IPv4 options (RFC 791 3.1, RFC 1812 5.2.4): checked once when a packet
// with options arrives, then Record Route and Timestamp filled in by a
// router that forwards or answers it.
#pragma once

#include <cstdint>

#include <rte_ip.h>

namespace appliance {

// Where the options of one header are, or the first octet in error.
struct Ipv4Options {
    uint8_t record_route = 0;  // offset of the option from the IP header (0: none)
    uint8_t timestamp = 0;
    bool source_route = false;
    uint8_t problem = 0;  // offset of the octet in error: Parameter Problem's pointer (0: none)
};

// The checks Linux makes on input (ip_options_compile): lengths within the
// header, one Record Route and one Timestamp at most, their pointers at or
// above the first slot and, when there is room, room for a whole entry, a
// known Timestamp flag, and an overflow count that can still count.
Ipv4Options parse_ipv4_options(const rte_ipv4_hdr* ip);

// What a checked option gets from this router: `address` (network order)
// in Record Route; in Timestamp a time (with the address for flag 1; for
// flag 3 only when `named_is_us`, the slot naming this router), or one more
// in the overflow count when it is full. The header checksum is the caller's.
void record_route(uint8_t* option, uint32_t address_be);
void stamp(uint8_t* option, uint32_t address_be, uint32_t ms_since_midnight, bool named_is_us);

// The Timestamp option's unit: milliseconds since midnight UT (RFC 791).
uint32_t ms_since_midnight();

// The address a prespecified Timestamp (flag 3) names next, network order;
// 0 when it is full or of another kind.
uint32_t timestamp_named(const uint8_t* option);

}  // namespace appliance
