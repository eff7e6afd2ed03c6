// The routes of one kernel routing table, read over rtnetlink (libmnl): a
// dump, then the changes as they happen. Only parsing: what the appliance
// does with them is KernelRouteTable's business.
#pragma once

#include <cstdint>
#include <optional>
#include <vector>

#include "core/ip_addr.h"

struct mnl_socket;

namespace appliance {

struct KernelPath {
    int oif;                         // the kernel interface it leaves by
    std::optional<IpAddr> gateway;   // none: the destination is on that link
    bool operator==(const KernelPath& o) const { return oif == o.oif && gateway == o.gateway; }
};

struct KernelRoute {
    IpAddr prefix;  // host bits zero
    uint8_t depth;
    uint8_t protocol;  // RTPROT_*: who installed it (bgp 186, ospf 188, static 4, ...)
    uint8_t type;      // RTN_*: unicast, blackhole, unreachable, prohibit are mirrored
    std::vector<KernelPath> paths;  // several: a multipath route
};

struct KernelRouteChange {
    bool added;  // false: deleted
    KernelRoute route;
};

class NetlinkRoutes {
public:
    // Subscribes to IPv4 and IPv6 route changes, with a socket buffer of
    // `receive_buffer` bytes for them.
    NetlinkRoutes(uint32_t table, int receive_buffer);
    ~NetlinkRoutes();
    NetlinkRoutes(const NetlinkRoutes&) = delete;
    NetlinkRoutes& operator=(const NetlinkRoutes&) = delete;

    int fd() const;  // readable when changes wait
    // Every route of the table now, both families (on a socket of its own).
    std::vector<KernelRoute> dump();
    // The changes waiting, without blocking. False: the kernel dropped some
    // for want of buffer space (ENOBUFS); the rest waiting is discarded and
    // only a new dump can tell.
    bool read(std::vector<KernelRouteChange>* changes);

private:
    uint32_t table_;
    mnl_socket* events_;
    std::vector<char> buffer_;
};

}  // namespace appliance
