// The link state of a net_tap port's kernel interface, wherever it is.
// net_tap asks the kernel by interface name in our own network namespace,
// so a tap moved into another namespace (a test host, a container) reads as
// down while it forwards. The tap's file descriptor knows better: it names
// the interface and its namespace (TUNGETIFF, TUNGETDEVNETNS).
#pragma once

#include <optional>
#include <string>

namespace appliance {

// Up (administratively up with carrier) or down; nullopt when no tap of
// that name is open in this process.
std::optional<bool> tap_link_up(const std::string& ifname);

}  // namespace appliance
