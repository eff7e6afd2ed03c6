#include "kernel/vlan_link.h"

#include <errno.h>
#include <libmnl/libmnl.h>
#include <linux/if_link.h>
#include <linux/rtnetlink.h>
#include <net/if.h>

#include <cstring>
#include <memory>
#include <vector>

#include "core/errors.h"

namespace appliance {

void add_vlan_link(const std::string& parent, const std::string& name, uint16_t vlan, uint16_t mtu) {
    const auto fail = [&](const std::string& why) {
        return PortError("kernel interface " + name + " (VLAN " + std::to_string(vlan) + " on " +
                         parent + "): " + why);
    };
    const unsigned parent_index = if_nametoindex(parent.c_str());
    if (parent_index == 0) throw fail(parent + " is gone");
    std::unique_ptr<mnl_socket, int (*)(mnl_socket*)> nl(mnl_socket_open(NETLINK_ROUTE),
                                                         mnl_socket_close);
    if (!nl || mnl_socket_bind(nl.get(), 0, MNL_SOCKET_AUTOPID) < 0)
        throw fail(std::string("netlink: ") + std::strerror(errno));
    std::vector<char> buf(MNL_SOCKET_BUFFER_SIZE);
    nlmsghdr* nlh = mnl_nlmsg_put_header(buf.data());
    nlh->nlmsg_type = RTM_NEWLINK;
    nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_CREATE | NLM_F_EXCL | NLM_F_ACK;
    nlh->nlmsg_seq = 1;
    auto* ifm = static_cast<ifinfomsg*>(mnl_nlmsg_put_extra_header(nlh, sizeof(ifinfomsg)));
    ifm->ifi_family = AF_UNSPEC;
    mnl_attr_put_u32(nlh, IFLA_LINK, parent_index);
    mnl_attr_put_strz(nlh, IFLA_IFNAME, name.c_str());
    mnl_attr_put_u32(nlh, IFLA_MTU, mtu);
    nlattr* info = mnl_attr_nest_start(nlh, IFLA_LINKINFO);
    mnl_attr_put_strz(nlh, IFLA_INFO_KIND, "vlan");
    nlattr* data = mnl_attr_nest_start(nlh, IFLA_INFO_DATA);
    mnl_attr_put_u16(nlh, IFLA_VLAN_ID, vlan);
    mnl_attr_nest_end(nlh, data);
    mnl_attr_nest_end(nlh, info);
    if (mnl_socket_sendto(nl.get(), nlh, nlh->nlmsg_len) < 0)
        throw fail(std::string("netlink: ") + std::strerror(errno));
    const ssize_t got = mnl_socket_recvfrom(nl.get(), buf.data(), buf.size());
    if (got < 0 || mnl_cb_run(buf.data(), size_t(got), 1, mnl_socket_get_portid(nl.get()), nullptr,
                              nullptr) < 0)
        throw fail(std::strerror(errno));
}

}  // namespace appliance
