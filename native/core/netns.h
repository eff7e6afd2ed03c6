// Network namespaces by name: /run/netns/NAME, as `ip netns add` makes them
// and FRR's netns VRF backend (zebra -n) finds them. A VRF's kernel
// interfaces live in the namespace named after it, so routing daemons see
// each VRF's interfaces and table apart on a kernel without VRF devices.
#pragma once

#include <functional>
#include <string>

namespace appliance {

// Enters namespace `name` on the calling thread ("": stays). PortError if
// there is no such namespace or it cannot be entered.
void enter_netns(const std::string& name);

// Runs `fn` on a thread of its own that entered `name` ("": here, on this
// thread), and rethrows what it threw. Sockets and devices made there stay
// in that namespace after the thread is gone.
void in_netns(const std::string& name, const std::function<void()>& fn);

}  // namespace appliance
