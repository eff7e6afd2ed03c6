#include "nat/nat_table.h"

#include <netinet/in.h>

#include <rte_errno.h>
#include <rte_hash.h>
#include <rte_hash_crc.h>

#include "core/errors.h"

namespace appliance {

namespace {
bool bit(const uint64_t* bits, uint16_t port) { return (bits[port >> 6] >> (port & 63)) & 1; }
void set_bit(uint64_t* bits, uint16_t port, bool on) {
    if (on)
        bits[port >> 6] |= uint64_t(1) << (port & 63);
    else
        bits[port >> 6] &= ~(uint64_t(1) << (port & 63));
}
}  // namespace

NatTable::NatTable(const std::string& name, uint32_t max_mappings, size_t ifaces, Rcu& rcu)
    : rcu_(rcu), rules_(new NatRules()) {
    auto* none = const_cast<NatRules*>(rules_.load());
    none->ifaces.resize(ifaces);
    none->outside.resize(ifaces);
    rte_hash_parameters p{};
    const std::string hash_name = "nat_" + name;
    p.name = hash_name.c_str();
    p.entries = std::max<uint32_t>(max_mappings, 64);
    p.key_len = sizeof(MapKey);
    p.hash_func = rte_hash_crc;
    p.socket_id = SOCKET_ID_ANY;
    p.extra_flag = RTE_HASH_EXTRA_FLAGS_EXT_TABLE;  // (one writer at a time: lock_)
    by_key_ = rte_hash_create(&p);
    if (by_key_ == nullptr) {
        delete rules_.load();
        throw ResourceError("cannot make the NAT mapping table: " + dpdk_strerror(rte_errno));
    }
    mappings_.resize(p.entries);
    free_.reserve(p.entries);
    for (uint32_t i = p.entries; i-- > 0;) free_.push_back(i);
}

NatTable::~NatTable() {
    rte_hash_free(by_key_);
    delete rules_.load();
}

int NatTable::proto_slot(uint8_t proto) {
    switch (proto) {
    case IPPROTO_TCP: return 0;
    case IPPROTO_UDP: return 1;
    case IPPROTO_ICMP: return 2;
    default: return -1;
    }
}

bool NatTable::take_port(PortSpace& space, int slot, uint32_t addr, uint8_t proto, uint16_t want,
                         uint16_t lo, uint16_t hi, uint16_t* got) {
    uint64_t* used = space.used[slot];
    const NatRules& rules = *rules_.load(std::memory_order_acquire);
    auto free_port = [&](uint16_t port) {  // host order
        return !bit(used, port) && !rules.forwarded(addr, proto, __builtin_bswap16(port));
    };
    // Port preservation (RFC 4787 REQ-3 allows it; Linux does it): the inside port, if free.
    // An echo's identifier likewise (the range too); port 0 is never given out.
    uint16_t port = want;
    if (port == 0 || !free_port(port)) {
        const uint32_t span = uint32_t(hi) - lo + 1;
        uint32_t at = space.cursor[slot] % span, n = 0;
        for (; n < span && !free_port(uint16_t(lo + at)); ++n) at = at + 1 == span ? 0 : at + 1;
        if (n == span) return false;
        port = uint16_t(lo + at);
        space.cursor[slot] = uint16_t((at + 1) % span);
    }
    set_bit(used, port, true);
    space.count[slot]++;
    *got = port;
    return true;
}

NatMapped NatTable::acquire(uint8_t proto, uint32_t inside, uint16_t port, uint32_t addr,
                            uint16_t lo, uint16_t hi) {
    const int slot = proto_slot(proto);
    MapKey key{inside, addr, slot < 0 ? uint16_t(0) : port, proto, 0};
    NatMapped out;
    rte_spinlock_lock(&lock_);
    void* data = nullptr;
    if (rte_hash_lookup_data(by_key_, &key, &data) >= 0) {
        const auto index = uint32_t(reinterpret_cast<uintptr_t>(data));
        Mapping& m = mappings_[index];
        m.refs++;
        out = {index, addr, m.public_port};
        rte_spinlock_unlock(&lock_);
        return out;
    }
    auto space = spaces_.find(addr);
    uint16_t public_port = 0;  // host order
    const bool ok = !free_.empty() && space != spaces_.end() &&
                    (slot < 0 || take_port(*space->second, slot, addr, proto, __builtin_bswap16(port),
                                           lo, hi, &public_port));
    if (!ok) {
        port_failures_++;
        rte_spinlock_unlock(&lock_);
        return out;
    }
    const uint32_t index = free_.back();
    free_.pop_back();
    mappings_[index] = {key, __builtin_bswap16(public_port), 1};
    rte_hash_add_key_data(by_key_, &key, reinterpret_cast<void*>(uintptr_t(index)));
    out = {index, addr, __builtin_bswap16(public_port)};
    rte_spinlock_unlock(&lock_);
    return out;
}

void NatTable::release(uint32_t index) {
    if (index == kNoMapping) return;
    rte_spinlock_lock(&lock_);
    Mapping& m = mappings_[index];
    if (--m.refs == 0) {
        const int slot = proto_slot(m.key.proto);
        auto space = spaces_.find(m.key.addr);
        if (slot >= 0 && space != spaces_.end()) {
            set_bit(space->second->used[slot], __builtin_bswap16(m.public_port), false);
            space->second->count[slot]--;
        }
        rte_hash_del_key(by_key_, &m.key);
        free_.push_back(index);
    }
    rte_spinlock_unlock(&lock_);
}

void NatTable::set_rules(std::unique_ptr<NatRules> rules) {
    std::vector<uint32_t> addresses;
    for (const NatIfaceRules& f : rules->ifaces) addresses.insert(addresses.end(), f.addresses.begin(), f.addresses.end());
    for (const NatForward& f : rules->forwards) addresses.push_back(f.public_addr);
    std::vector<std::unique_ptr<PortSpace>> made;  // allocated outside the lock (24 KiB each)
    for (uint32_t a : addresses) {
        (void)a;
        made.push_back(std::make_unique<PortSpace>());
    }
    rte_spinlock_lock(&lock_);
    for (size_t i = 0; i < addresses.size(); ++i)
        if (spaces_.find(addresses[i]) == spaces_.end()) spaces_[addresses[i]] = std::move(made[i]);
    rte_spinlock_unlock(&lock_);
    const NatRules* old = rules_.exchange(rules.release(), std::memory_order_acq_rel);
    rcu_.synchronize();
    delete old;
}

std::vector<NatPortUse> NatTable::port_use() {
    std::vector<NatPortUse> out;
    rte_spinlock_lock(&lock_);
    for (const auto& [addr, space] : spaces_)
        out.push_back({addr, space->count[0], space->count[1], space->count[2]});
    rte_spinlock_unlock(&lock_);
    return out;
}

NatStats NatTable::stats() {
    rte_spinlock_lock(&lock_);
    const NatStats s{mappings_.size() - free_.size(), port_failures_};
    rte_spinlock_unlock(&lock_);
    return s;
}

}  // namespace appliance
