#include "slowpath/control.h"

#include <algorithm>

#include "core/errors.h"
#include "fib/fib.h"
#include "slowpath/address_text.h"

namespace appliance {

namespace {

// "192.0.2.1/24" or "2001:db8::1/64": the address and its prefix length.
std::pair<IpAddr, uint8_t> parse_address(const std::string& text) {
    if (!is_ipv6_text(text)) {
        try {
            const auto [ip, depth] = parse_interface(text);
            return {IpAddr::v4(ip), depth};
        } catch (const RouteError& e) {
            throw AddressError(e.what());
        }
    }
    const auto slash = text.find('/');
    if (slash == std::string::npos)
        throw AddressError("'" + text + "': an address needs its prefix length, like 2001:db8::1/64");
    const std::string len = text.substr(slash + 1);
    if (len.empty() || len.size() > 3 || !std::all_of(len.begin(), len.end(), ::isdigit) ||
        std::stoi(len) < 1 || std::stoi(len) > 128)
        throw AddressError("'" + text + "': prefix length must be a number 1..128");
    return {parse_unicast<AddressError>(text.substr(0, slash), "address"), uint8_t(std::stoi(len))};
}

}  // namespace

void SlowPathControl::ra_set(const RaSpec& spec) {
    const auto lock = ctl_.lock();
    slow_.ra_set(ctl_.port_index(spec.iface), spec);
}

void SlowPathControl::ra_clear(const std::string& iface) {
    const auto lock = ctl_.lock();
    slow_.ra_clear(ctl_.port_index(iface));
}

void SlowPathControl::address_add(const std::string& port, const std::string& prefix) {
    const auto lock = ctl_.lock();
    const uint16_t index = ctl_.port_index(port);
    const auto [ip, depth] = parse_address(prefix);
    slow_.address_add(index, ip, depth);
}

void SlowPathControl::address_delete(const std::string& port, const std::string& prefix) {
    const auto lock = ctl_.lock();
    const uint16_t index = ctl_.port_index(port);
    const auto [ip, depth] = parse_address(prefix);
    slow_.address_delete(index, ip, depth);
}

std::vector<AddressInfo> SlowPathControl::addresses() {
    const auto lock = ctl_.lock();
    return slow_.addresses();
}

void SlowPathControl::neighbor_add(const std::string& port, const std::string& ip,
                                   const std::string& mac) {
    const auto lock = ctl_.lock();
    const uint16_t index = ctl_.port_index(port);
    rte_ether_addr m{};
    if (mac.size() != 17 || rte_ether_unformat_addr(mac.c_str(), &m) != 0)
        throw NeighborError("'" + mac + "' is not a MAC address like 02:00:00:00:00:01");
    if (!rte_is_unicast_ether_addr(&m) || rte_is_zero_ether_addr(&m))
        throw NeighborError("'" + mac + "' is not a unicast MAC (multicast, broadcast and "
                            "00:00:00:00:00:00 are refused)");
    slow_.neighbor_add(index, parse_unicast<NeighborError>(ip, "neighbour"), m);
}

void SlowPathControl::neighbor_delete(const std::string& port, const std::string& ip) {
    const auto lock = ctl_.lock();
    const uint16_t index = ctl_.port_index(port);
    slow_.neighbor_delete(index, parse_unicast<NeighborError>(ip, "neighbour"));
}

std::vector<NeighborInfo> SlowPathControl::neighbors() {
    const auto lock = ctl_.lock();
    return slow_.neighbors();
}

SlowPathStats SlowPathControl::stats() {
    const auto lock = ctl_.lock();
    return slow_.stats();
}

unsigned SlowPathControl::held_packets(bool generated) {
    const auto lock = ctl_.lock();
    return slow_.held_packets(generated);
}

}  // namespace appliance
