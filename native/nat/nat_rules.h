// What an operator asked NAT to do, as the workers read it: per interface,
// how sources leaving by it are translated (masquerade to its address, or a
// pool), and the destination translations (port forwards, 1:1 static NAT)
// of packets addressed to it. Immutable once published: a reload builds new
// rules and swaps the pointer (NatTable::set_rules).
#pragma once

#include <cstdint>
#include <vector>

namespace appliance {

enum class NatSource : uint8_t { none, masquerade, pool };

struct NatIfaceRules {
    NatSource source = NatSource::none;
    std::vector<uint32_t> addresses;  // network order: masquerade's one, or the pool's
    uint16_t port_lo = 1024, port_hi = 65535;  // where a port is allocated when the inside one is taken
};

// A destination translation: `proto` packets to public:port (port 0 with
// proto 0: every packet to `public_addr`, 1:1 static NAT, which also gives
// `to_addr`'s outgoing packets that source) go to to_addr:to_port (0: the same port).
struct NatForward {
    uint16_t iface = 0;        // the outside interface it is reached through
    uint8_t proto = 0;         // IPPROTO_TCP, IPPROTO_UDP; 0: static NAT
    uint32_t public_addr = 0;  // network order
    uint16_t public_port = 0;  // network order
    uint32_t to_addr = 0;
    uint16_t to_port = 0;
    bool is_static() const { return proto == 0; }
};

struct NatRules {
    std::vector<NatIfaceRules> ifaces;  // by interface index
    std::vector<uint8_t> outside;        // by interface index: has source NAT or forwards
    std::vector<NatForward> forwards;
    bool any = false;                    // some interface has NAT

    // The forward a packet to dst:dport (network order) matches, or nullptr.
    const NatForward* forward_to(uint8_t proto, uint32_t dst, uint16_t dport) const {
        for (const NatForward& f : forwards)
            if (f.public_addr == dst && (f.is_static() || (f.proto == proto && f.public_port == dport)))
                return &f;
        return nullptr;
    }
    // The static NAT an inside address has on `iface`, or nullptr.
    const NatForward* static_of(uint16_t iface, uint32_t inside) const {
        for (const NatForward& f : forwards)
            if (f.is_static() && f.iface == iface && f.to_addr == inside) return &f;
        return nullptr;
    }
    // Whether a port forward holds `port` of public address `addr`.
    bool forwarded(uint32_t addr, uint8_t proto, uint16_t port) const {
        for (const NatForward& f : forwards)
            if (f.public_addr == addr && (f.is_static() || (f.proto == proto && f.public_port == port)))
                return true;
        return false;
    }
};

}  // namespace appliance
