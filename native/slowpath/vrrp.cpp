// VRRPv3 (RFC 5798) in the slow path: the virtual routers of each interface,
// their advertisements in and out, and what a master holds while it is one:
// its virtual MAC in the workers' MAC filter (vrrp/vrrp_macs.h), a local
// route for each virtual address (answered or refused, by accept mode), ARP
// and ND answers from the virtual MAC, gratuitous ARP / unsolicited NA when
// it takes over. The state machine itself is vrrp/vrrp_machine.h; timers run
// from the thread's loop as they fall due (1 ms at worst), not the 50 ms tick.
#include <algorithm>
#include <chrono>
#include <cstring>

#include <arpa/inet.h>
#include <rte_arp.h>
#include <rte_ethdev.h>
#include <rte_ip.h>

#include "core/errors.h"
#include "slowpath/address_text.h"
#include "slowpath/slowpath.h"
#include "vrrp/vrrp_packet.h"

namespace appliance {

namespace {

constexpr size_t kMaxEvents = 1024;
const rte_ether_addr kBroadcast{{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}};
const rte_ether_addr kAllNodesMac{{0x33, 0x33, 0, 0, 0, 1}};
const Ipv6Address kAllNodes{0xff, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};

uint64_t unix_ms() {
    using namespace std::chrono;
    return uint64_t(duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count());
}

uint8_t host_bits(const IpAddr& ip) { return ip.is_v4() ? 32 : 128; }

}  // namespace

bool SlowPath::vrrp_owner(const VrrpRouter& r) const { return r.spec.priority == 255; }

uint8_t SlowPath::vrrp_priority(const VrrpRouter& r) const {
    int p = r.spec.priority;
    for (const auto& [iface, decrement] : r.track)
        if (iface < link_up_.size() && !link_up_[iface]) p -= decrement;
    return uint8_t(std::max(p, 1));
}

void SlowPath::vrrp_set(uint16_t port, const VrrpSpec& s,
                        const std::function<uint16_t(const std::string&)>& index_of) {
    const std::string what = s.iface + ": vrrp " + std::to_string(s.vrid);
    if (s.vrid == 0) throw PortError(s.iface + ": vrrp: VRID must be 1..255");
    if (s.priority == 0)
        throw PortError(what + ": priority must be 1..255 (0 is what a leaving master sends)");
    if (s.interval_cs == 0 || s.interval_cs > 4095)
        throw PortError(what + ": advertisement interval must be 10..40950 ms");
    if (s.addresses.empty() || s.addresses.size() > 32)
        throw PortError(what + ": 1..32 virtual addresses");
    std::vector<IpAddr> addresses;
    for (const std::string& text : s.addresses) {
        const IpAddr ip = parse_unicast<PortError>(text, what + ": address");
        if (!addresses.empty() && ip.is_v4() != addresses[0].is_v4())
            throw PortError(what + ": addresses of both families; make one virtual router each");
        if (std::find(addresses.begin(), addresses.end(), ip) != addresses.end())
            throw PortError(what + ": " + text + " is listed twice");
        addresses.push_back(ip);
    }
    const bool v6 = !addresses[0].is_v4();
    for (const IpAddr& ip : addresses) {
        const bool own = v6 ? address6_on(port, ip.b.data()) : address_on(port, ip.to_v4()).has_value();
        if (s.priority == 255 && !own)
            throw PortError(what + ": priority 255 is the owner's: " + format_ip(ip) +
                            " must be an address of " + s.iface);
        if (s.priority != 255 && (own || is_ours(vrf_of(port), ip)))
            throw PortError(what + ": " + format_ip(ip) + " is an address of this router: only "
                            "its owner (priority 255) may have it as a virtual address");
        if (!s.accept && s.priority != 255 && !connected(port, ip))
            throw PortError(what + ": " + format_ip(ip) + " is outside " + s.iface +
                            "'s subnets (only accept mode may have such an address)");
    }
    if (!v6 && addresses_[port].empty())
        throw PortError(what + ": " + s.iface + " has no IPv4 address to advertise from");
    std::vector<std::pair<uint16_t, uint8_t>> track;
    for (const VrrpTrack& t : s.track) {
        if (t.decrement == 0) throw PortError(what + ": track " + t.iface + ": decrement must be 1..254");
        track.emplace_back(index_of(t.iface), t.decrement);
    }
    auto same = [&](const VrrpRouter& r) { return r.port == port && r.spec.vrid == s.vrid && r.v6 == v6; };
    auto it = std::find_if(vrrp_.begin(), vrrp_.end(), same);
    if (it == vrrp_.end() &&
        std::count_if(vrrp_.begin(), vrrp_.end(), [&](const VrrpRouter& r) { return r.port == port; }) >=
            long(kVrrpMacsPerIface))
        throw PortError(what + ": at most " + std::to_string(kVrrpMacsPerIface) +
                        " virtual routers an interface");
    for (const VrrpRouter& r : vrrp_)  // a virtual address is one router's (link-local: per link)
        if (!same(r) && vrf_of(r.port) == vrf_of(port))
            for (const IpAddr& ip : addresses)
                if ((r.port == port || !ip.link_local()) &&
                    std::find(r.addresses.begin(), r.addresses.end(), ip) != r.addresses.end())
                    throw PortError(what + ": " + format_ip(ip) + " is already vrrp " +
                                    std::to_string(r.spec.vrid) + "'s");
    if (link_up_.size() != ports_.size()) link_up_.assign(ports_.size(), true);
    const VrrpParams params{s.priority, s.interval_cs, s.preempt, s.preempt_delay_ms};
    if (it != vrrp_.end()) {  // changed in place: its state stays
        VrrpRouter& r = *it;
        // A master whose addresses change hands the old ones back and announces the new;
        // otherwise its MAC stays in the filter throughout.
        const bool holding = r.mac_slot >= 0 && r.addresses != addresses;
        if (holding) vrrp_release(r);
        r.spec = s;
        r.addresses = std::move(addresses);
        r.track = std::move(track);
        r.machine.configure(params);
        r.machine.set_priority(vrrp_priority(r));
        if (holding) vrrp_take(r);
        vrrp_reschedule();
        return;
    }
    VrrpRouter r;
    r.port = port;
    r.v6 = v6;
    r.spec = s;
    r.addresses = std::move(addresses);
    r.track = std::move(track);
    r.mac = vrrp_mac(s.vrid, v6);
    r.machine.configure(params);
    r.machine.set_priority(vrrp_priority(r));
    r.since_ms = now_ms();
    vrrp_.push_back(std::move(r));
    if (vrrp_macs_ != nullptr) vrrp_macs_[port].configured.fetch_add(1, std::memory_order_relaxed);
    if (thread_.joinable()) vrrp_start(vrrp_.back(), VrrpReason::startup);
    vrrp_reschedule();
}

void SlowPath::vrrp_clear(uint16_t port, uint8_t vrid, bool v6) {
    auto it = std::find_if(vrrp_.begin(), vrrp_.end(), [&](const VrrpRouter& r) {
        return r.port == port && r.spec.vrid == vrid && r.v6 == v6;
    });
    if (it == vrrp_.end())
        throw PortError("vrrp " + std::to_string(vrid) + (v6 ? " (IPv6)" : " (IPv4)") +
                        ": no such virtual router on the interface");
    const VrrpState from = it->machine.state();
    vrrp_act(*it, it->machine.shutdown(VrrpReason::removed), from);
    vrrp_.erase(it);
    if (vrrp_macs_ != nullptr) vrrp_macs_[port].configured.fetch_sub(1, std::memory_order_relaxed);
    vrrp_reschedule();
}

void SlowPath::vrrp_start(VrrpRouter& r, VrrpReason why) {
    if (r.port < link_up_.size() && !link_up_[r.port]) return;  // when its link comes up
    const VrrpState from = r.machine.state();
    vrrp_act(r, r.machine.startup(now_ms(), why), from);
}

void SlowPath::vrrp_links(const std::vector<bool>& up) {
    if (up.size() != ports_.size()) return;
    const std::vector<bool> before = link_up_.empty() ? std::vector<bool>(ports_.size(), true) : link_up_;
    link_up_ = up;
    for (VrrpRouter& r : vrrp_) {
        const VrrpState from = r.machine.state();
        if (!up[r.port] && before[r.port]) {
            vrrp_act(r, r.machine.shutdown(VrrpReason::link_down), from);
        } else if (up[r.port] && !before[r.port] && thread_.joinable()) {
            vrrp_start(r, VrrpReason::link_up);
        }
        const uint8_t p = vrrp_priority(r);
        if (p == r.machine.priority()) continue;
        r.machine.set_priority(p);
        vrrp_events_.push_back({++vrrp_seq_, unix_ms(), r.port, r.spec.vrid, r.v6, r.machine.state(),
                                r.machine.state(), VrrpReason::tracking, p});
        // A master says its new priority at once: a better backup may preempt now.
        if (r.machine.state() == VrrpState::master) vrrp_advertise(r, p);
    }
    while (vrrp_events_.size() > kMaxEvents) vrrp_events_.pop_front();
    vrrp_reschedule();
}

void SlowPath::vrrp_act(VrrpRouter& r, const VrrpActions& a, VrrpState from) {
    if (a.from_master) vrrp_release(r);
    if (a.advertise_zero) vrrp_advertise(r, 0);
    if (a.advertise) vrrp_advertise(r, r.machine.priority());
    if (a.to_master) vrrp_take(r);
    const VrrpState to = r.machine.state();
    if (to == from) return;
    r.since_ms = now_ms();
    r.transitions++;
    if (to == VrrpState::master) r.became_master++;
    vrrp_events_.push_back({++vrrp_seq_, unix_ms(), r.port, r.spec.vrid, r.v6, from, to,
                            r.machine.reason(), r.machine.priority()});
    while (vrrp_events_.size() > kMaxEvents) vrrp_events_.pop_front();
}

// The NIC's unicast filter takes the virtual MAC too, where it has one: one add
// per port and MAC, however many sub-interfaces' routers share it. Devices with
// a single address (vdevs: net_tap, ring, pcap pass every frame) are left alone:
// there ethdev would put the MAC in the default address's place.
void SlowPath::vrrp_nic_filter(const VrrpRouter& r, bool add) {
    const uint16_t port_id = ports_[r.port].port_id;
    rte_eth_dev_info info{};
    if (rte_eth_dev_info_get(port_id, &info) != 0 || info.max_mac_addrs <= 1) return;
    unsigned& users = nic_macs_[{port_id, vrrp_mac48(r.mac)}];
    rte_ether_addr mac = r.mac;
    if (add && users++ == 0) rte_eth_dev_mac_addr_add(port_id, &mac, 0);  // (-ENOTSUP: software only)
    if (!add && users != 0 && --users == 0) rte_eth_dev_mac_addr_remove(port_id, &mac);
}

void SlowPath::vrrp_take(VrrpRouter& r) {
    if (r.mac_slot < 0) vrrp_nic_filter(r, true);
    if (r.mac_slot < 0 && vrrp_macs_ != nullptr) {
        VrrpMacs& macs = vrrp_macs_[r.port];
        for (unsigned k = 0; k < kVrrpMacsPerIface; ++k)
            if (macs.mac[k].load(std::memory_order_relaxed) == 0) {
                macs.mac[k].store(vrrp_mac48(r.mac), std::memory_order_relaxed);
                macs.active.fetch_add(1, std::memory_order_release);
                r.mac_slot = int(k);
                break;
            }
    }
    const uint16_t vrf = vrf_of(r.port);
    for (const IpAddr& ip : r.addresses) {
        if (!vrrp_owner(r)) {
            // What we knew of it as a neighbour (the old master's MAC) is ours now.
            if (Neighbor* n = neigh_find(r.port, ip); n != nullptr && n->state != NeighState::permanent)
                neigh_forget(*n);
            route_install(vrf, ip, host_bits(ip), first_hop_);
        }
        if (r.v6) na_send(r.port, kAllNodesMac, kAllNodes, ip.b, false, &r.mac);
        else arp_send(r.port, RTE_ARP_OP_REQUEST, kBroadcast, ip.to_v4(), ip.to_v4(), &r.mac);
    }
    // The new master advertises the virtual router to the link's hosts at once.
    if (r.v6 && r.port < ra_.size() && ra_[r.port].enabled) ra_[r.port].next_ms = 0;
}

void SlowPath::vrrp_release(VrrpRouter& r) {
    if (r.mac_slot >= 0) vrrp_nic_filter(r, false);
    if (r.mac_slot >= 0 && vrrp_macs_ != nullptr) {
        VrrpMacs& macs = vrrp_macs_[r.port];
        macs.mac[r.mac_slot].store(0, std::memory_order_relaxed);
        macs.active.fetch_sub(1, std::memory_order_release);
    }
    r.mac_slot = -1;
    if (vrrp_owner(r)) return;
    for (const IpAddr& ip : r.addresses) route_uninstall(vrf_of(r.port), ip, host_bits(ip));
}

void SlowPath::vrrp_advertise(VrrpRouter& r, uint8_t priority) {
    VrrpAdvert a;
    a.vrid = r.spec.vrid;
    a.priority = priority;
    a.interval_cs = r.spec.interval_cs;
    a.addresses = r.addresses;
    const uint32_t len = vrrp_length(a, r.v6);
    rte_mbuf* m = nullptr;
    if (r.v6) {
        m = new_ipv6(r.port, link_local(r.port), kVrrpGroup6, 255, uint16_t(len));
        if (m == nullptr) return;
        auto* eth = rte_pktmbuf_mtod(m, rte_ether_hdr*);
        eth->dst_addr = rte_ether_addr{{0x33, 0x33, 0, 0, 0, 0x12}};
        eth->src_addr = r.mac;
        auto* ip = reinterpret_cast<rte_ipv6_hdr*>(eth + 1);
        ip->proto = kIpProtoVrrp;
        vrrp_write6(ip, a, reinterpret_cast<uint8_t*>(ip + 1));
    } else {
        const uint32_t src = source_for(r.port);
        m = alloc(r.port);
        char* data = m ? rte_pktmbuf_append(m, uint16_t(sizeof(rte_ether_hdr) + sizeof(rte_ipv4_hdr) + len))
                       : nullptr;
        if (data == nullptr) {
            if (m) rte_pktmbuf_free(m);
            stats_.generated_dropped++;
            return;
        }
        auto* eth = reinterpret_cast<rte_ether_hdr*>(data);
        eth->dst_addr = rte_ether_addr{{0x01, 0x00, 0x5e, 0, 0, 0x12}};
        eth->src_addr = r.mac;
        eth->ether_type = RTE_BE16(RTE_ETHER_TYPE_IPV4);
        auto* ip = reinterpret_cast<rte_ipv4_hdr*>(eth + 1);
        ip->version_ihl = 0x45;
        ip->type_of_service = 0xc0;  // internetwork control, as keepalived and Linux's own
        ip->total_length = htons(uint16_t(sizeof(rte_ipv4_hdr) + len));
        ip->packet_id = htons(ip_id_++);
        ip->fragment_offset = 0;
        ip->time_to_live = 255;
        ip->next_proto_id = kIpProtoVrrp;
        ip->src_addr = htonl(src);
        ip->dst_addr = htonl(kVrrpGroup4);
        ip->hdr_checksum = 0;
        ip->hdr_checksum = rte_ipv4_cksum(ip);
        vrrp_write4(ip, a, reinterpret_cast<uint8_t*>(ip + 1));
    }
    r.adverts_out++;
    if (priority == 0) r.zero_out++;
    stats_.vrrp_out++;
    send(m, r.port, true);
}

bool SlowPath::is_vrrp(const rte_mbuf* m) {
    const auto* eth = rte_pktmbuf_mtod(m, const rte_ether_hdr*);
    const uint32_t len = rte_pktmbuf_data_len(m);
    if (eth->ether_type == RTE_BE16(RTE_ETHER_TYPE_IPV4))
        return len >= sizeof(rte_ether_hdr) + sizeof(rte_ipv4_hdr) &&
               reinterpret_cast<const rte_ipv4_hdr*>(eth + 1)->next_proto_id == kIpProtoVrrp;
    if (eth->ether_type == RTE_BE16(RTE_ETHER_TYPE_IPV6))
        return len >= sizeof(rte_ether_hdr) + sizeof(rte_ipv6_hdr) &&
               reinterpret_cast<const rte_ipv6_hdr*>(eth + 1)->proto == kIpProtoVrrp;
    return false;
}

// RFC 5798 7.1: TTL 255, version 3, checksum, a virtual router of ours. The
// address count and interval need not match ours (the master's interval is
// what a backup times).
void SlowPath::vrrp_input(rte_mbuf* m, uint16_t port) {
    const auto* eth = rte_pktmbuf_mtod(m, const rte_ether_hdr*);
    const uint32_t frame = rte_pktmbuf_data_len(m) - uint32_t(sizeof(rte_ether_hdr));
    const bool v6 = eth->ether_type == RTE_BE16(RTE_ETHER_TYPE_IPV6);
    VrrpAdvert a;
    VrrpInvalid bad = VrrpInvalid::length;
    IpAddr sender;
    if (v6) {
        const auto* ip = reinterpret_cast<const rte_ipv6_hdr*>(eth + 1);
        const uint32_t len = ntohs(ip->payload_len);
        if (sizeof(rte_ipv6_hdr) + len <= frame && IpAddr::v6(ip->dst_addr).b == kVrrpGroup6)
            bad = vrrp_parse6(ip, reinterpret_cast<const uint8_t*>(ip + 1), len, &a);
        sender = IpAddr::v6(ip->src_addr);
    } else {
        const auto* ip = reinterpret_cast<const rte_ipv4_hdr*>(eth + 1);
        const uint32_t ihl = uint32_t(ip->version_ihl & 0x0f) * 4;
        const uint32_t total = ntohs(ip->total_length);
        if (ihl >= sizeof(rte_ipv4_hdr) && total >= ihl && total <= frame &&
            ntohl(ip->dst_addr) == kVrrpGroup4 &&
            (ip->fragment_offset & RTE_BE16(RTE_IPV4_HDR_OFFSET_MASK | RTE_IPV4_HDR_MF_FLAG)) == 0)
            bad = vrrp_parse4(ip, reinterpret_cast<const uint8_t*>(ip) + ihl, total - ihl, &a);
        sender = IpAddr::v4(ntohl(ip->src_addr));
    }
    auto it = std::find_if(vrrp_.begin(), vrrp_.end(), [&](const VrrpRouter& r) {
        return r.port == port && r.spec.vrid == a.vrid && r.v6 == v6;
    });
    const IpAddr ours = v6 ? IpAddr::v6(link_local(port)) : IpAddr::v4(source_for(port));
    if (bad != VrrpInvalid::none || it == vrrp_.end() || sender == ours)
        return drop(m, DropReason::vrrp_ignored);
    rte_pktmbuf_free(m);
    stats_.local++;
    stats_.vrrp_in++;
    VrrpRouter& r = *it;
    r.adverts_in++;
    if (a.priority == 0) {
        r.zero_in++;
        if (r.master_known && r.master == sender) r.master_known = false;
    } else {
        r.master = sender;
        r.master_known = true;
        r.master_priority = a.priority;
    }
    const VrrpState from = r.machine.state();
    vrrp_act(r, r.machine.advert(now_ms(), a.priority, a.interval_cs, ours < sender), from);
    vrrp_reschedule();
}

void SlowPath::vrrp_timers() {
    const uint64_t now = now_ms();
    for (VrrpRouter& r : vrrp_) {
        if (r.machine.deadline() > now) continue;
        const VrrpState from = r.machine.state();
        vrrp_act(r, r.machine.tick(now), from);
    }
    vrrp_reschedule();
}

void SlowPath::vrrp_reschedule() {
    uint64_t due = ~0ull;
    for (const VrrpRouter& r : vrrp_) due = std::min(due, r.machine.deadline());
    vrrp_due_ms_.store(due, std::memory_order_relaxed);
}

void SlowPath::vrrp_farewell() {
    for (VrrpRouter& r : vrrp_) {
        const VrrpState from = r.machine.state();
        vrrp_act(r, r.machine.shutdown(VrrpReason::removed), from);
    }
    vrrp_reschedule();
}

const rte_ether_addr* SlowPath::vrrp_answers(uint16_t port, const IpAddr& ip) const {
    for (const VrrpRouter& r : vrrp_)
        if (r.port == port && r.mac_slot >= 0 &&
            std::find(r.addresses.begin(), r.addresses.end(), ip) != r.addresses.end())
            return &r.mac;
    return nullptr;
}

bool SlowPath::vrrp_solicited(uint16_t port, const uint8_t* group) const {
    static const uint8_t head[13] = {0xff, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0xff};
    if (std::memcmp(group, head, sizeof head) != 0) return false;
    for (const VrrpRouter& r : vrrp_)
        if (r.port == port && r.v6 && r.mac_slot >= 0)
            for (const IpAddr& ip : r.addresses)
                if (std::memcmp(ip.b.data() + 13, group + 13, 3) == 0) return true;
    return false;
}

bool SlowPath::vrrp_ra_source(uint16_t port, Ipv6Address* ip, rte_ether_addr* mac) const {
    for (const VrrpRouter& r : vrrp_)
        if (r.port == port && r.v6 && r.addresses.front().link_local()) {
            if (r.mac_slot < 0) return false;
            *ip = r.addresses.front().b;
            *mac = r.mac;
            return true;
        }
    *ip = link_local(port);
    *mac = ports_[port].mac;
    return true;
}

bool SlowPath::vrrp_refuses(uint16_t vrf, const IpAddr& ip) const {
    for (const VrrpRouter& r : vrrp_)
        if (r.mac_slot >= 0 && !r.spec.accept && !vrrp_owner(r) && vrf_of(r.port) == vrf &&
            std::find(r.addresses.begin(), r.addresses.end(), ip) != r.addresses.end())
            return true;
    return false;
}

std::vector<VrrpInfo> SlowPath::vrrp_list() const {
    std::vector<VrrpInfo> out;
    const uint64_t now = now_ms();
    for (const VrrpRouter& r : vrrp_) {
        VrrpInfo i{};
        i.iface = r.port;
        i.vrid = r.spec.vrid;
        i.v6 = r.v6;
        i.spec = r.spec;
        i.state = r.machine.state();
        i.reason = r.machine.reason();
        i.priority = r.machine.priority();
        i.master_interval_cs = r.machine.master_interval_cs();
        if (i.state == VrrpState::master) {
            i.master = format_ip(r.v6 ? IpAddr::v6(link_local(r.port)) : IpAddr::v4(source_for(r.port)));
            i.master_priority = i.priority;
        } else if (i.state == VrrpState::backup && r.master_known) {
            i.master = format_ip(r.master);
            i.master_priority = r.master_priority;
        }
        i.since_ms = now - r.since_ms;
        i.transitions = r.transitions;
        i.became_master = r.became_master;
        i.adverts_out = r.adverts_out;
        i.adverts_in = r.adverts_in;
        i.zero_out = r.zero_out;
        i.zero_in = r.zero_in;
        out.push_back(std::move(i));
    }
    return out;
}

std::vector<VrrpEvent> SlowPath::vrrp_events(uint64_t after_seq) const {
    std::vector<VrrpEvent> out;
    for (const VrrpEvent& e : vrrp_events_)
        if (e.seq > after_seq) out.push_back(e);
    return out;
}

}  // namespace appliance
