// Router advertisements (RFC 4861 6.2, RFC 8106) on the interfaces that have
// them (with an IPv6 VRRP router whose first address is link-local, only its
// master sends them, from that address and the virtual MAC: hosts' default
// router is then the virtual one, as RFC 5798 has it for IPv6): unsolicited ones to all nodes at a random time in [min, max] (the
// first three at most 16 s apart), one in answer to a router solicitation
// (multicast, at most one per 3 s), and a last one with router lifetime 0
// when the appliance stops, so hosts drop it as their default router at once.
// Each carries our link-layer address, the interface's MTU, a prefix
// information option per prefix of its global addresses and the RDNSS.
#include <algorithm>
#include <cstring>
#include <random>

#include "core/errors.h"
#include "slowpath/address_text.h"
#include "slowpath/icmp6_checksum.h"
#include "slowpath/slowpath.h"

namespace appliance {

namespace {

constexpr uint8_t kRouterAdvert = 134;
constexpr uint32_t kRaLen = 16;  // type, code, checksum, hop limit, flags, lifetime, 2 timers
constexpr uint32_t kMaxInitialInterval = 16000;  // MAX_INITIAL_RTR_ADVERT_INTERVAL
constexpr unsigned kInitialAdverts = 3;           // MAX_INITIAL_RTR_ADVERTISEMENTS
constexpr uint32_t kMinDelayBetweenRas = 3000;    // MIN_DELAY_BETWEEN_RAS
const Ipv6Address kAllNodes{0xff, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
const rte_ether_addr kAllNodesMac{{0x33, 0x33, 0, 0, 0, 1}};

void put32(uint8_t* p, uint32_t v) {
    const uint32_t be = rte_cpu_to_be_32(v);
    std::memcpy(p, &be, 4);
}

}  // namespace

void SlowPath::ra_configure(const std::vector<RaSpec>& specs,
                            const std::function<uint16_t(const std::string&)>& index_of) {
    ra_.assign(ports_.size(), RaState{});
    for (const RaSpec& s : specs) ra_set(index_of(s.iface), s);
}

void SlowPath::ra_set(uint16_t port, const RaSpec& s) {
    if (s.min_interval_ms == 0 || s.min_interval_ms > s.max_interval_ms)
        throw PortError(s.iface + ": router advertisements: min interval must be 1..max interval");
    std::vector<Ipv6Address> rdnss;
    for (const std::string& text : s.rdnss) {
        const IpAddr a = parse_unicast<PortError>(text, s.iface + ": rdnss");
        if (a.is_v4()) throw PortError(s.iface + ": rdnss " + text + " is not an IPv6 address");
        rdnss.push_back(a.b);
    }
    ra_.resize(ports_.size());
    RaState& r = ra_.at(port);
    r = RaState{};  // as a new router on the link: at once, then the quick initial ones
    r.spec = s;
    r.rdnss = std::move(rdnss);
    r.enabled = true;
}

void SlowPath::ra_clear(uint16_t port) {
    if (port >= ra_.size() || !ra_[port].enabled) return;
    ra_send(port, 0);
    ra_[port].enabled = false;
}

uint32_t SlowPath::ra_interval(RaState& r) {
    std::uniform_int_distribution<uint32_t> pick(r.spec.min_interval_ms, r.spec.max_interval_ms);
    uint32_t next = pick(rng_);
    if (r.initial_left > 0) {
        r.initial_left--;
        next = std::min(next, kMaxInitialInterval);
    }
    return next;
}

void SlowPath::ra_timers() {
    const uint64_t now = now_ms();
    for (uint16_t p = 0; p < ra_.size(); ++p) {
        RaState& r = ra_[p];
        if (!r.enabled || now < r.next_ms) continue;
        ra_send(p, r.spec.lifetime_s);
        r.last_ms = now;
        r.next_ms = now + ra_interval(r);
    }
}

// A solicitation (RFC 4861 6.2.6): answered to all nodes, no sooner than 3 s
// after the last one; the asker, if it said its link-layer address, is learned.
void SlowPath::rs_input(rte_mbuf* m, uint16_t port) {
    stats_.local++;
    const auto* ip = rte_pktmbuf_mtod_offset(m, const rte_ipv6_hdr*, sizeof(rte_ether_hdr));
    const auto* icmp = reinterpret_cast<const uint8_t*>(ip + 1);
    const uint32_t len = rte_be_to_cpu_16(ip->payload_len);
    const bool valid = ip->hop_limits == 255 && icmp[1] == 0 && len >= 8;
    const rte_ether_addr* link_addr = nullptr;
    for (uint32_t at = 8; valid && at + 2 <= len && icmp[at + 1] != 0 && at + icmp[at + 1] * 8u <= len;
         at += icmp[at + 1] * 8u)
        if (icmp[at] == 1 && icmp[at + 1] == 1) link_addr = reinterpret_cast<const rte_ether_addr*>(icmp + at + 2);
    const IpAddr src = IpAddr::v6(ip->src_addr);
    if (!valid || port >= ra_.size() || !ra_[port].enabled) {
        stats_.nd_ignored++;
        return rte_pktmbuf_free(m);
    }
    stats_.rs_in++;
    if (link_addr != nullptr && !ipv6_unspecified(ip->src_addr))
        neigh_learn(port, src, *link_addr, NeighState::stale);
    rte_pktmbuf_free(m);
    RaState& r = ra_[port];
    r.next_ms = std::min(r.next_ms, std::max(now_ms(), r.last_ms + kMinDelayBetweenRas));
}

void SlowPath::ra_send(uint16_t port, uint16_t lifetime_s) {
    const RaState& r = ra_[port];
    std::vector<std::pair<Ipv6Address, uint8_t>> prefixes;
    for (const Address6& a : addresses6_[port]) {
        if (a.automatic || (a.ip[0] == 0xfe && (a.ip[1] & 0xc0) == 0x80)) continue;  // link-local
        Ipv6Address net = a.ip;
        for (unsigned bit = a.depth; bit < 128; ++bit) net[bit / 8] &= uint8_t(~(0x80 >> (bit % 8)));
        if (std::find(prefixes.begin(), prefixes.end(), std::pair{net, a.depth}) == prefixes.end())
            prefixes.emplace_back(net, a.depth);
    }
    Ipv6Address source;
    rte_ether_addr source_mac;
    if (!vrrp_ra_source(port, &source, &source_mac)) return;  // a VRRP backup's link
    const uint32_t rdnss_len = r.rdnss.empty() ? 0 : 8 + 16 * uint32_t(r.rdnss.size());
    const uint32_t len = kRaLen + 8 + (r.spec.advertise_mtu ? 8 : 0) + 32 * uint32_t(prefixes.size()) +
                         rdnss_len;
    rte_mbuf* m = new_ipv6(port, source, kAllNodes, 255, uint16_t(len));
    if (m == nullptr) return;
    auto* eth = rte_pktmbuf_mtod(m, rte_ether_hdr*);
    eth->dst_addr = kAllNodesMac;
    eth->src_addr = source_mac;
    auto* ip = reinterpret_cast<rte_ipv6_hdr*>(eth + 1);
    auto* icmp = reinterpret_cast<uint8_t*>(ip + 1);
    std::memset(icmp, 0, len);
    icmp[0] = kRouterAdvert;
    icmp[4] = r.spec.hop_limit;
    icmp[5] = uint8_t((r.spec.managed ? 0x80 : 0) | (r.spec.other ? 0x40 : 0));
    const uint16_t lifetime = rte_cpu_to_be_16(lifetime_s);
    std::memcpy(icmp + 6, &lifetime, 2);  // reachable time and retrans timer: 0, unspecified
    uint8_t* opt = icmp + kRaLen;
    opt[0] = 1;  // source link-layer address
    opt[1] = 1;
    std::memcpy(opt + 2, source_mac.addr_bytes, RTE_ETHER_ADDR_LEN);
    opt += 8;
    if (r.spec.advertise_mtu) {
        opt[0] = 5;
        opt[1] = 1;
        put32(opt + 4, ports_[port].mtu);
        opt += 8;
    }
    for (const auto& [net, depth] : prefixes) {
        opt[0] = 3;  // prefix information
        opt[1] = 4;
        opt[2] = depth;
        opt[3] = uint8_t((r.spec.on_link ? 0x80 : 0) | (r.spec.autonomous ? 0x40 : 0));
        put32(opt + 4, r.spec.valid_lifetime_s);
        put32(opt + 8, r.spec.preferred_lifetime_s);
        std::memcpy(opt + 16, net.data(), 16);
        opt += 32;
    }
    if (!r.rdnss.empty()) {
        opt[0] = 25;  // recursive DNS server (RFC 8106 5.1)
        opt[1] = uint8_t(rdnss_len / 8);
        put32(opt + 4, lifetime_s == 0 ? 0 : r.spec.rdnss_lifetime_s);
        for (size_t i = 0; i < r.rdnss.size(); ++i) std::memcpy(opt + 8 + 16 * i, r.rdnss[i].data(), 16);
    }
    const uint16_t sum = icmp6_checksum(ip, icmp, len);
    std::memcpy(icmp + 2, &sum, 2);
    stats_.ra_out++;
    send(m, port, true);
}

// The last word before stopping: we are no default router any more.
void SlowPath::ra_farewell() {
    for (uint16_t p = 0; p < ra_.size(); ++p)
        if (ra_[p].enabled) ra_send(p, 0);
}

}  // namespace appliance
