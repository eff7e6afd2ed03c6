#include "slowpath/ipv4_options.h"

#include <chrono>
#include <cstring>

namespace appliance {

namespace {

constexpr uint8_t kEnd = 0, kNoop = 1, kRecordRoute = 7, kTimestamp = 0x44, kLooseRoute = 0x83,
                  kStrictRoute = 0x89;
constexpr uint8_t kStampOnly = 0, kStampAddress = 1, kStampPrespecified = 3;

Ipv4Options problem_at(uint32_t offset) {
    Ipv4Options o;
    o.problem = uint8_t(offset);
    return o;
}

}  // namespace

Ipv4Options parse_ipv4_options(const rte_ipv4_hdr* ip) {
    const auto* h = reinterpret_cast<const uint8_t*>(ip);
    const uint32_t end = uint32_t(ip->version_ihl & 0x0f) * 4;
    Ipv4Options out;
    for (uint32_t i = sizeof(rte_ipv4_hdr); i < end;) {
        const uint8_t type = h[i];
        if (type == kEnd) break;
        if (type == kNoop) {
            ++i;
            continue;
        }
        if (i + 1 >= end || h[i + 1] < 2 || i + h[i + 1] > end) return problem_at(i);
        const uint8_t len = h[i + 1];
        const uint8_t ptr = len >= 3 ? h[i + 2] : 0;
        switch (type) {
        case kLooseRoute:
        case kStrictRoute:
            if (out.source_route) return problem_at(i);  // one source route (RFC 1812 5.2.4.1)
            if (len < 3) return problem_at(i + 1);
            if (ptr < 4) return problem_at(i + 2);
            out.source_route = true;
            break;
        case kRecordRoute:
            if (out.record_route) return problem_at(i);
            if (len < 3) return problem_at(i + 1);
            if (ptr < 4) return problem_at(i + 2);
            if (ptr <= len && ptr + 3 > len) return problem_at(i + 2);  // some room, not enough
            out.record_route = uint8_t(i);
            break;
        case kTimestamp: {
            if (out.timestamp) return problem_at(i);
            if (len < 4) return problem_at(i + 1);
            if (ptr < 5) return problem_at(i + 2);
            const uint8_t flag = h[i + 3] & 0x0f;
            if (ptr <= len) {  // room for a time, and an address too with flags 1 and 3
                const bool pairs = flag == kStampAddress || flag == kStampPrespecified;
                if (ptr + (pairs ? 7 : 3) > len) return problem_at(i + 2);
            } else if ((h[i + 3] >> 4) == 15) {  // full, and the overflow count cannot count
                return problem_at(i + 3);
            }
            out.timestamp = uint8_t(i);
            break;
        }
        default:  // others (security, router alert, ...) pass unchanged, as on Linux
            break;
        }
        i += len;
    }
    return out;
}

void record_route(uint8_t* o, uint32_t address_be) {
    const uint8_t ptr = o[2];
    if (ptr > o[1]) return;  // full: forwarded as it is (RFC 791)
    std::memcpy(o + ptr - 1, &address_be, 4);
    o[2] = uint8_t(ptr + 4);
}

void stamp(uint8_t* o, uint32_t address_be, uint32_t ms, bool named_is_us) {
    const uint8_t ptr = o[2];
    if (ptr > o[1]) {  // full: one more in the overflow count (checked to have room)
        o[3] = uint8_t(o[3] + 0x10);
        return;
    }
    const uint32_t time_be = __builtin_bswap32(ms);
    switch (o[3] & 0x0f) {
    case kStampOnly:
        std::memcpy(o + ptr - 1, &time_be, 4);
        o[2] = uint8_t(ptr + 4);
        break;
    case kStampAddress:
        std::memcpy(o + ptr - 1, &address_be, 4);
        std::memcpy(o + ptr + 3, &time_be, 4);
        o[2] = uint8_t(ptr + 8);
        break;
    case kStampPrespecified:
        if (!named_is_us) break;
        std::memcpy(o + ptr + 3, &time_be, 4);
        o[2] = uint8_t(ptr + 8);
        break;
    default:  // undefined flags: left as they are, as Linux does
        break;
    }
}

uint32_t timestamp_named(const uint8_t* o) {
    if ((o[3] & 0x0f) != kStampPrespecified || o[2] > o[1]) return 0;
    uint32_t named;
    std::memcpy(&named, o + o[2] - 1, 4);
    return named;
}

uint32_t ms_since_midnight() {
    using namespace std::chrono;
    const auto ms = duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count();
    return uint32_t(ms % 86400000);
}

}  // namespace appliance
