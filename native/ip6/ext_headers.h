// The upper-layer header behind an IPv6 header's extension headers, as
// Linux's ipv6_skip_exthdr finds it: hop-by-hop, routing, destination
// options and fragment headers are skipped (four at most); a non-first
// fragment ends the walk, its upper-layer header is not in this packet.
#pragma once

#include <netinet/in.h>

#include <cstdint>

namespace appliance {

struct UpperLayer {
    uint8_t proto;      // the header's protocol (or the one the walk stopped at)
    uint32_t offset;    // from the end of the fixed IPv6 header
    bool non_first;     // a fragment that does not carry the upper-layer header
};

// `after` points just past the fixed header; `room` bytes are readable there.
inline UpperLayer ipv6_upper_layer(const uint8_t* after, uint8_t proto, uint32_t room) {
    UpperLayer u{proto, 0, false};
    for (int hops = 0; hops < 4 && u.offset + 8 <= room; ++hops) {
        const uint8_t* h = after + u.offset;
        if (u.proto == IPPROTO_FRAGMENT) {
            u.proto = h[0];
            if ((uint16_t(h[2]) << 8 | h[3]) & 0xfff8) {
                u.non_first = true;
                return u;
            }
            u.offset += 8;
        } else if (u.proto == IPPROTO_HOPOPTS || u.proto == IPPROTO_ROUTING || u.proto == IPPROTO_DSTOPTS) {
            u.proto = h[0];
            u.offset += (uint32_t(h[1]) + 1) * 8;
        } else {
            break;
        }
    }
    return u;
}

}  // namespace appliance
