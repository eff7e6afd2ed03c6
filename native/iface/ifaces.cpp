#include "iface/ifaces.h"

#include <algorithm>

#include "core/errors.h"

namespace appliance {

namespace {
constexpr size_t kIfNameMax = 15;  // IFNAMSIZ - 1
}

std::vector<Iface> make_ifaces(std::vector<Iface> ports, const std::vector<VlanSpec>& vlans) {
    const size_t nports = ports.size();
    std::vector<Iface> out = std::move(ports);
    for (const VlanSpec& v : vlans) {
        const std::string what = "sub-interface " + v.port + "." + std::to_string(v.vlan);
        const auto port = std::find_if(out.begin(), out.begin() + long(nports),
                                       [&](const Iface& i) { return i.name == v.port; });
        if (port == out.begin() + long(nports)) throw PortError(what + ": no port named " + v.port);
        if (v.vlan < 1 || v.vlan > kMaxVlan)
            throw PortError(what + ": a VLAN id is 1..4094 (0 tags priority only, 4095 is reserved)");
        const Iface parent = *port;
        Iface sub{parent.name + "." + std::to_string(v.vlan), parent.port, v.vlan,
                  v.mtu != 0 ? v.mtu : parent.mtu, "", v.vrf};
        for (const Iface& other : out)
            if (other.name == sub.name) throw PortError(what + ": defined twice");
        if (sub.mtu > parent.mtu)
            throw PortError(what + ": MTU " + std::to_string(sub.mtu) + " is above its port's (" +
                            std::to_string(parent.mtu) + ")");
        if (!v.kernel.empty()) {
            if (v.kernel.size() > kIfNameMax)
                throw PortError(what + ": kernel interface name " + v.kernel + " is longer than " +
                                std::to_string(kIfNameMax) + " characters");
            for (const Iface& other : out)
                if (other.kernel == v.kernel)
                    throw PortError(what + ": kernel interface " + v.kernel + " is " + other.name + "'s");
            sub.kernel = v.kernel;
        }
        out.push_back(std::move(sub));
    }
    if (out.size() >= kUnknownVlan) throw PortError("too many interfaces (at most 65534)");
    return out;
}

std::vector<std::vector<uint16_t>> vlan_maps(const std::vector<Iface>& ifaces, size_t ports) {
    std::vector<std::vector<uint16_t>> maps(ports);
    for (size_t i = ports; i < ifaces.size(); ++i) {
        auto& map = maps[ifaces[i].port];
        if (map.empty()) map.assign(kMaxVlan + 2, kUnknownVlan);
        map[ifaces[i].vlan] = uint16_t(i);
    }
    return maps;
}

}  // namespace appliance
