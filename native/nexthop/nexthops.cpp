#include "nexthop/nexthops.h"

#include "core/errors.h"
#include "core/port.h"
#include "slowpath/address_text.h"
#include "slowpath/slowpath.h"

namespace appliance {

namespace {

rte_ether_addr parse_mac(const std::string& text, const std::string& what) {
    rte_ether_addr mac{};
    if (text.size() != 17 || rte_ether_unformat_addr(text.c_str(), &mac) != 0)
        throw NextHopError(what + " '" + text + "' is not a MAC address like 02:00:00:00:00:01");
    // A group or zero MAC as either end of a frame makes every switch flood or drop it.
    if (!rte_is_unicast_ether_addr(&mac) || rte_is_zero_ether_addr(&mac))
        throw NextHopError(what + " '" + text + "' is not a unicast MAC (multicast, broadcast "
                           "and 00:00:00:00:00:00 are refused)");
    return mac;
}

}  // namespace

void NextHopControl::set(uint32_t id, const std::string& port, const std::string& dst_mac,
                         const std::string& src_mac) {
    const auto lock = ctl_.lock();
    const uint16_t index = ctl_.port_index(port);
    ctl_.check_user_hop(id);
    NextHop hop = slow_.port_hop(index, HopAction::forward);
    hop.dst = parse_mac(dst_mac, "next hop " + std::to_string(id) + " dst MAC");
    if (!src_mac.empty()) hop.src = parse_mac(src_mac, "next hop " + std::to_string(id) + " src MAC");
    hops_.set(id, hop);
    slow_.gateway_clear(id);
}

void NextHopControl::set_gateway(uint32_t id, const std::string& port, const std::string& gateway) {
    const auto lock = ctl_.lock();
    const uint16_t index = ctl_.port_index(port);
    ctl_.check_user_hop(id);
    const IpAddr gw = parse_unicast<NextHopError>(gateway, "next hop " + std::to_string(id) + ": gateway");
    slow_.gateway_clear(id);
    slow_.gateway_set(id, index, gw);
}

std::optional<std::string> NextHopControl::gateway(uint32_t id) {
    const auto lock = ctl_.lock();
    auto key = slow_.gateway_of(id);
    if (!key) return std::nullopt;
    return format_ip(*key);
}

void NextHopControl::remove(uint32_t id) {
    const auto lock = ctl_.lock();
    ctl_.check_user_hop(id);
    hops_.remove(id);
    slow_.gateway_clear(id);
}

std::vector<NextHopInfo> NextHopControl::list() {
    const auto lock = ctl_.lock();
    return hops_.list(ctl_.max_nexthops);
}

}  // namespace appliance
