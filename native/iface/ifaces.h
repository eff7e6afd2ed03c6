// Building the interface list from the ports and the VLAN specs, checked.
#pragma once

#include <vector>

#include "iface/iface.h"

namespace appliance {

// `ports` (one interface each, VLAN 0), then one per VLAN spec. PortError
// names the spec for an unknown port, a VLAN out of 1..4094 or used twice,
// an MTU above the port's, or a kernel name too long for Linux or used twice.
std::vector<Iface> make_ifaces(std::vector<Iface> ports, const std::vector<VlanSpec>& vlans);

// Per port: VLAN id (0..4095) -> interface index, kUnknownVlan where none;
// empty for a port without sub-interfaces.
std::vector<std::vector<uint16_t>> vlan_maps(const std::vector<Iface>& ifaces, size_t ports);

}  // namespace appliance
