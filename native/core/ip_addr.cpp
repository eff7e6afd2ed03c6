#include "core/ip_addr.h"

#include <arpa/inet.h>

#include <algorithm>

namespace appliance {

std::string format_ip(const IpAddr& a) {
    char buf[INET6_ADDRSTRLEN];
    if (a.is_v4()) inet_ntop(AF_INET, a.b.data() + 12, buf, sizeof buf);
    else inet_ntop(AF_INET6, a.b.data(), buf, sizeof buf);
    return buf;
}

Ipv6Address mask6(const Ipv6Address& a, uint8_t depth) {
    Ipv6Address out{};
    unsigned left = depth;
    for (unsigned i = 0; i < 16 && left > 0; ++i, left = left >= 8 ? left - 8 : 0)
        out[i] = a[i] & uint8_t(0xff00u >> std::min(left, 8u));
    return out;
}

}  // namespace appliance
