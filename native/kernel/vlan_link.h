// The kernel interface of a VLAN sub-interface: a Linux VLAN device on its
// port's kernel interface (the net_tap), so the frames the slow path hands
// up tagged reach the right one and what sockets on it send comes down
// tagged. It goes away with the tap, when the data plane closes.
#pragma once

#include <cstdint>
#include <string>

namespace appliance {

// PortError naming the interface when the kernel refuses.
void add_vlan_link(const std::string& parent, const std::string& name, uint16_t vlan, uint16_t mtu);

}  // namespace appliance
