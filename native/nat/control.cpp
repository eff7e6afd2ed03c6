#include "nat/control.h"

#include <arpa/inet.h>
#include <netinet/in.h>

#include "core/errors.h"

namespace appliance {

namespace {
uint32_t ipv4(const std::string& text, const std::string& what) {
    in_addr a{};
    if (inet_pton(AF_INET, text.c_str(), &a) != 1)
        throw StateError(what + ": '" + text + "' is not an IPv4 address");
    return a.s_addr;
}
}  // namespace

void NatControl::set(const std::map<std::string, NatIfaceSpec>& ifaces,
                     const std::vector<NatForwardSpec>& forwards) {
    const auto lock = ctl_.lock();
    if (nat_ == nullptr) {
        if (ifaces.empty() && forwards.empty()) return;
        throw StateError("NAT needs connection tracking: the config has no conntrack section");
    }
    auto rules = std::make_unique<NatRules>();
    rules->ifaces.resize(ctl_.port_count());
    rules->outside.resize(ctl_.port_count());
    for (const auto& [name, spec] : ifaces) {
        const uint16_t index = ctl_.port_index(name);
        NatIfaceRules& r = rules->ifaces[index];
        if (spec.source == "masquerade" || spec.source == "pool")
            r.source = spec.source == "pool" ? NatSource::pool : NatSource::masquerade;
        else if (!spec.source.empty())
            throw StateError("nat on " + name + ": source '" + spec.source + "' is not masquerade or pool");
        for (const std::string& a : spec.addresses) r.addresses.push_back(ipv4(a, "nat on " + name));
        if (r.source != NatSource::none && r.addresses.empty())
            throw StateError("nat on " + name + ": no address to translate to");
        if (spec.port_lo == 0 || spec.port_lo > spec.port_hi)
            throw StateError("nat on " + name + ": ports " + std::to_string(spec.port_lo) + "-" +
                             std::to_string(spec.port_hi) + " are not a range of 1..65535");
        r.port_lo = spec.port_lo;
        r.port_hi = spec.port_hi;
        rules->outside[index] = 1;
    }
    for (const NatForwardSpec& f : forwards) {
        NatForward out;
        out.iface = ctl_.port_index(f.iface);
        out.proto = f.proto == "tcp" ? IPPROTO_TCP : f.proto == "udp" ? IPPROTO_UDP : 0;
        if (out.proto == 0 && !f.proto.empty())
            throw StateError("nat forward: protocol '" + f.proto + "' is not tcp or udp");
        out.public_addr = ipv4(f.public_addr, "nat forward");
        out.public_port = htons(f.public_port);
        out.to_addr = ipv4(f.to_addr, "nat forward");
        out.to_port = htons(f.to_port != 0 ? f.to_port : f.public_port);
        rules->outside[out.iface] = 1;
        rules->forwards.push_back(out);
    }
    rules->any = !ifaces.empty() || !forwards.empty();
    const bool any = rules->any;
    nat_->set_rules(std::move(rules));
    ct_->set_nat(any);
}

std::vector<NatPortUse> NatControl::port_use() {
    const auto lock = ctl_.lock();
    return nat_ ? nat_->port_use() : std::vector<NatPortUse>{};
}

NatStats NatControl::stats() {
    const auto lock = ctl_.lock();
    return nat_ ? nat_->stats() : NatStats{};
}

}  // namespace appliance
