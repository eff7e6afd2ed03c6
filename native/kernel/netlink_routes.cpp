#include "kernel/netlink_routes.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <libmnl/libmnl.h>
#include <linux/rtnetlink.h>
#include <sys/socket.h>

#include <cstring>
#include <stdexcept>
#include <string>

#include "core/errors.h"

namespace appliance {

namespace {

struct Parsed {
    uint32_t table;
    std::vector<KernelRouteChange>* out;
};

IpAddr address_of(int family, const void* data) {
    if (family == AF_INET) {
        uint32_t be;
        std::memcpy(&be, data, 4);
        return IpAddr::v4(ntohl(be));
    }
    return IpAddr::v6(static_cast<const uint8_t*>(data));
}

// RTA_VIA (an IPv4 route through an IPv6 gateway, RFC 8950): family, then the address.
std::optional<IpAddr> via_of(const nlattr* a) {
    const auto* via = static_cast<const rtvia*>(mnl_attr_get_payload(a));
    const size_t len = mnl_attr_get_payload_len(a);
    if (via->rtvia_family == AF_INET6 && len >= sizeof(rtvia) + 16)
        return IpAddr::v6(reinterpret_cast<const uint8_t*>(via->rtvia_addr));
    if (via->rtvia_family == AF_INET && len >= sizeof(rtvia) + 4) return address_of(AF_INET, via->rtvia_addr);
    return std::nullopt;
}

// One message; routes of other tables are skipped here.
int on_message(const nlmsghdr* nlh, void* data) {
    auto* parsed = static_cast<Parsed*>(data);
    if (nlh->nlmsg_type != RTM_NEWROUTE && nlh->nlmsg_type != RTM_DELROUTE) return MNL_CB_OK;
    const auto* rtm = static_cast<const rtmsg*>(mnl_nlmsg_get_payload(nlh));
    if (rtm->rtm_family != AF_INET && rtm->rtm_family != AF_INET6) return MNL_CB_OK;
    uint32_t table = rtm->rtm_table;
    KernelRoute r{rtm->rtm_family == AF_INET ? IpAddr::v4(0) : IpAddr{}, rtm->rtm_dst_len,
                  rtm->rtm_protocol, rtm->rtm_type, {}};
    KernelPath single{0, std::nullopt};
    const nlattr* multipath = nullptr;
    const auto* tail = static_cast<const char*>(mnl_nlmsg_get_payload_tail(nlh));
    for (auto* a = static_cast<const nlattr*>(mnl_nlmsg_get_payload_offset(nlh, sizeof(rtmsg)));
         mnl_attr_ok(a, int(tail - reinterpret_cast<const char*>(a))); a = mnl_attr_next(a)) {
        switch (mnl_attr_get_type(a)) {
        case RTA_TABLE: table = mnl_attr_get_u32(a); break;
        case RTA_DST: r.prefix = address_of(rtm->rtm_family, mnl_attr_get_payload(a)); break;
        case RTA_OIF: single.oif = int(mnl_attr_get_u32(a)); break;
        case RTA_GATEWAY: single.gateway = address_of(rtm->rtm_family, mnl_attr_get_payload(a)); break;
        case RTA_VIA: single.gateway = via_of(a); break;
        case RTA_MULTIPATH: multipath = a; break;
        default: break;
        }
    }
    if (table != parsed->table) return MNL_CB_OK;
    if (multipath != nullptr) {
        const auto* nh = static_cast<const rtnexthop*>(mnl_attr_get_payload(multipath));
        int left = int(mnl_attr_get_payload_len(multipath));
        while (left >= int(sizeof(rtnexthop)) && nh->rtnh_len >= sizeof(rtnexthop) &&
               nh->rtnh_len <= left) {
            KernelPath path{nh->rtnh_ifindex, std::nullopt};
            const auto* end = reinterpret_cast<const char*>(nh) + nh->rtnh_len;
            for (auto* attr = reinterpret_cast<const nlattr*>(RTNH_DATA(nh));
                 mnl_attr_ok(attr, int(end - reinterpret_cast<const char*>(attr)));
                 attr = mnl_attr_next(attr)) {
                if (mnl_attr_get_type(attr) == RTA_GATEWAY)
                    path.gateway = address_of(rtm->rtm_family, mnl_attr_get_payload(attr));
                else if (mnl_attr_get_type(attr) == RTA_VIA)
                    path.gateway = via_of(attr);
            }
            r.paths.push_back(path);
            left -= RTNH_ALIGN(nh->rtnh_len);
            nh = RTNH_NEXT(nh);
        }
    } else {
        r.paths.push_back(single);
    }
    parsed->out->push_back({nlh->nlmsg_type == RTM_NEWROUTE, std::move(r)});
    return MNL_CB_OK;
}

mnl_socket* open_socket(unsigned groups, int receive_buffer, const char* what) {
    mnl_socket* nl = mnl_socket_open2(NETLINK_ROUTE, SOCK_CLOEXEC | SOCK_NONBLOCK);
    if (nl == nullptr) throw ResourceError(std::string(what) + ": netlink socket: " + strerror(errno));
    if (mnl_socket_bind(nl, groups, MNL_SOCKET_AUTOPID) < 0) {
        mnl_socket_close(nl);
        throw ResourceError(std::string(what) + ": netlink bind: " + strerror(errno));
    }
    int size = receive_buffer;
    // FORCE: beyond rmem_max (we run as root); the plain option is the fallback.
    if (setsockopt(mnl_socket_get_fd(nl), SOL_SOCKET, SO_RCVBUFFORCE, &size, sizeof size) != 0)
        setsockopt(mnl_socket_get_fd(nl), SOL_SOCKET, SO_RCVBUF, &size, sizeof size);
    return nl;
}

}  // namespace

NetlinkRoutes::NetlinkRoutes(uint32_t table, int receive_buffer)
    : table_(table),
      events_(open_socket(RTMGRP_IPV4_ROUTE | RTMGRP_IPV6_ROUTE, receive_buffer, "route sync")),
      buffer_(1 << 20) {}

NetlinkRoutes::~NetlinkRoutes() { mnl_socket_close(events_); }

int NetlinkRoutes::fd() const { return mnl_socket_get_fd(events_); }

std::vector<KernelRoute> NetlinkRoutes::dump() {
    std::vector<KernelRouteChange> got;
    Parsed parsed{table_, &got};
    mnl_socket* nl = open_socket(0, 1 << 20, "route dump");
    // Blocking from here: a dump is read to its end.
    const int fd = mnl_socket_get_fd(nl);
    int one = 1;
    setsockopt(fd, SOL_NETLINK, NETLINK_GET_STRICT_CHK, &one, sizeof one);  // the kernel filters by table
    const int flags = fcntl(fd, F_GETFL);
    fcntl(fd, F_SETFL, flags & ~O_NONBLOCK);
    try {
        uint32_t seq = 1;
        for (int family : {AF_INET, AF_INET6}) {
            char request[MNL_SOCKET_BUFFER_SIZE];
            nlmsghdr* nlh = mnl_nlmsg_put_header(request);
            nlh->nlmsg_type = RTM_GETROUTE;
            nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
            nlh->nlmsg_seq = ++seq;
            auto* rtm = static_cast<rtmsg*>(mnl_nlmsg_put_extra_header(nlh, sizeof(rtmsg)));
            rtm->rtm_family = uint8_t(family);
            rtm->rtm_table = table_ < 256 ? uint8_t(table_) : uint8_t(RT_TABLE_UNSPEC);
            mnl_attr_put_u32(nlh, RTA_TABLE, table_);
            if (mnl_socket_sendto(nl, nlh, nlh->nlmsg_len) < 0)
                throw ResourceError(std::string("route dump: send: ") + strerror(errno));
            const unsigned portid = mnl_socket_get_portid(nl);
            int rc;
            do {
                const ssize_t n = mnl_socket_recvfrom(nl, buffer_.data(), buffer_.size());
                if (n < 0) throw ResourceError(std::string("route dump: ") + strerror(errno));
                rc = mnl_cb_run(buffer_.data(), size_t(n), seq, portid, on_message, &parsed);
            } while (rc > MNL_CB_STOP);
            if (rc < 0) throw ResourceError(std::string("route dump: ") + strerror(errno));
        }
    } catch (...) {
        mnl_socket_close(nl);
        throw;
    }
    mnl_socket_close(nl);
    std::vector<KernelRoute> out;
    out.reserve(got.size());
    for (auto& c : got) out.push_back(std::move(c.route));
    return out;
}

bool NetlinkRoutes::read(std::vector<KernelRouteChange>* changes) {
    Parsed parsed{table_, changes};
    for (;;) {
        const ssize_t n = mnl_socket_recvfrom(events_, buffer_.data(), buffer_.size());
        if (n < 0) {
            if (errno == EAGAIN || errno == EWOULDBLOCK) return true;
            if (errno == ENOBUFS) {
                // Empty the queue before the caller's new dump: the kernel
                // reports the next overrun only once its queue has drained,
                // and what is queued now is older than that dump anyway.
                while (mnl_socket_recvfrom(events_, buffer_.data(), buffer_.size()) > 0 ||
                       errno == ENOBUFS || errno == EINTR) {
                }
                return false;
            }
            if (errno == EINTR) continue;
            throw ResourceError(std::string("route sync: ") + strerror(errno));
        }
        mnl_cb_run(buffer_.data(), size_t(n), 0, 0, on_message, &parsed);
    }
}

}  // namespace appliance
