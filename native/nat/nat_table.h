// NAT44's state beside the connection table: the rules in force and the
// endpoint-independent mappings (RFC 4787 REQ-1) of inside address:port to
// public address:port, with the ports each public address has given out.
//
// A translated session holds one mapping (refcounted: every session of one
// inside address:port to any destination shares it, as REQ-1 asks); the
// sweeper releases it when the session expires, and the port is free again
// once no session holds it. Mappings change only when a session starts or
// ends, so one spinlock serialises them (readers of the rules take none).
#pragma once

#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include <rte_spinlock.h>

#include "core/rcu.h"
#include "nat/nat_rules.h"

struct rte_hash;

namespace appliance {

constexpr uint32_t kNoMapping = ~0u;

struct NatMapped {
    uint32_t mapping = kNoMapping;  // to release when the session ends
    uint32_t addr = 0;              // network order
    uint16_t port = 0;              // network order
};

struct NatPortUse {  // one public address's ports in use, by protocol
    uint32_t addr;   // network order
    uint32_t tcp, udp, icmp;
};

struct NatStats {
    uint64_t mappings = 0;        // live now
    uint64_t port_failures = 0;   // a public address had no free port
};

class NatTable {
public:
    NatTable(const std::string& name, uint32_t max_mappings, size_t ifaces, Rcu& rcu);
    ~NatTable();
    NatTable(const NatTable&) = delete;
    NatTable& operator=(const NatTable&) = delete;

    // ---- workers (inside an RCU read-side section) ----
    const NatRules& rules() const { return *rules_.load(std::memory_order_acquire); }
    // The mapping of inside:port (network order) for `proto` on public address
    // `addr`: the existing one, else a new one keeping the port where it is free,
    // else a port of [lo, hi]. mapping == kNoMapping when no port is free.
    NatMapped acquire(uint8_t proto, uint32_t inside, uint16_t port, uint32_t addr, uint16_t lo,
                      uint16_t hi);

    // ---- the sweeper: a session holding `mapping` ended ----
    void release(uint32_t mapping);

    // ---- control ----
    // Publishes `rules` (workers see the old or the new, never a mix) and
    // makes room for their public addresses' ports.
    void set_rules(std::unique_ptr<NatRules> rules);
    std::vector<NatPortUse> port_use();
    NatStats stats();

private:
    // Hashed as 16 bytes, every one set; 8-byte aligned: rte_hash_crc reads
    // it 8 bytes at a time (UBSan caught the 4-aligned key inside Mapping).
    struct alignas(8) MapKey {
        uint32_t inside, addr;
        uint16_t port;
        uint8_t proto, zero;
        uint32_t pad = 0;
    };
    static_assert(sizeof(MapKey) == 16, "MapKey has no implicit padding");
    struct Mapping {
        MapKey key;
        uint16_t public_port;  // network order
        uint32_t refs;
    };
    struct PortSpace {  // one public address: a bit per port, per protocol
        uint64_t used[3][1024] = {};
        uint32_t count[3] = {};
        uint16_t cursor[3] = {};
    };
    static int proto_slot(uint8_t proto);  // -1: a protocol without ports
    bool take_port(PortSpace& space, int slot, uint32_t addr, uint8_t proto, uint16_t want,
                   uint16_t lo, uint16_t hi, uint16_t* got);

    Rcu& rcu_;
    std::atomic<const NatRules*> rules_;
    rte_spinlock_t lock_ = RTE_SPINLOCK_INITIALIZER;  // everything below
    rte_hash* by_key_ = nullptr;
    std::vector<Mapping> mappings_;
    std::vector<uint32_t> free_;
    std::map<uint32_t, std::unique_ptr<PortSpace>> spaces_;  // by public address (never removed)
    uint64_t port_failures_ = 0;
};

}  // namespace appliance
