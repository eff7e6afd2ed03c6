// The neighbour table, one for ARP (RFC 826) and NDP (RFC 4861), with the
// states of RFC 4861 7.3.2 as Linux's neighbour code keeps them for both:
// incomplete -> reachable -> stale -> probe -> reachable again, or failed.
// Entries are published as workers see them: a host route (ip/32 or
// ip/128) -> a next hop with the MAC for hosts on connected subnets, and the
// dst MAC of every user next hop that names the neighbour as its gateway.
#include <algorithm>

#include <rte_arp.h>

#include "core/errors.h"
#include "slowpath/slowpath.h"

namespace appliance {

namespace {

bool usable(NeighState s) {
    return s == NeighState::reachable || s == NeighState::stale || s == NeighState::probe ||
           s == NeighState::permanent;
}

}  // namespace

SlowPath::Neighbor* SlowPath::neigh_find(uint16_t port, const IpAddr& ip) {
    auto it = neighbors_.find({port, ip});
    return it == neighbors_.end() ? nullptr : &it->second;
}

SlowPath::Neighbor* SlowPath::neigh_new(uint16_t port, const IpAddr& ip) {
    if (neighbors_.size() >= config_.max_neighbors) return nullptr;
    Neighbor& n = neighbors_[{port, ip}];
    n.port = port;
    n.ip = ip;
    return &n;
}

SlowPath::Neighbor& SlowPath::neigh_new_or_throw(uint16_t port, const IpAddr& ip) {
    Neighbor* n = neigh_new(port, ip);
    if (n == nullptr)
        throw TableFullError("neighbour table full (" + std::to_string(config_.max_neighbors) +
                             " entries)");
    return *n;
}

SlowPath::Neighbor* SlowPath::neigh_resolve(uint16_t port, const IpAddr& ip) {
    if (Neighbor* n = neigh_find(port, ip)) return n;
    Neighbor* n = neigh_new(port, ip);
    if (n != nullptr) neigh_restart(*n);
    return n;
}

void SlowPath::neigh_restart(Neighbor& n) {
    n.state = NeighState::incomplete;
    n.probes = 1;
    n.changed_ms = now_ms();
    n.deadline_ms = n.changed_ms + config_.retrans_ms;
    neigh_solicit(n, false);
    neigh_publish(n);
}

// Resolution asks everyone (ARP broadcast, NS to the solicited-node group);
// a probe of a known MAC goes to it.
void SlowPath::neigh_solicit(Neighbor& n, bool unicast) {
    if (!n.ip.is_v4()) return ns_send(n.port, n.ip.b, unicast ? &n.mac : nullptr);
    const rte_ether_addr broadcast{{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}};
    arp_send(n.port, RTE_ARP_OP_REQUEST, unicast ? n.mac : broadcast, n.ip.to_v4(),
             source_for(n.port, n.ip));
}

void SlowPath::neigh_hold(Neighbor& n, rte_mbuf* m, bool generated) {
    PacketMeta meta = get_meta(m);
    meta.generated = uint8_t(generated);
    set_meta(m, meta);
    if (held_ >= kMaxHeldPackets && n.hold.empty()) {  // all queues together are bounded too
        if (generated) return drop_generated(m);
        return drop(m, DropReason::hold_queue_full);
    }
    if (n.hold.size() >= config_.hold_packets || held_ >= kMaxHeldPackets) {  // Linux drops the oldest too
        rte_mbuf* old = n.hold.front();
        n.hold.pop_front();
        held_--;
        drop_held(old, DropReason::hold_queue_full);
    }
    trace_slow(m, TraceSlow::held, n.port, 0, n.ip.b.data(), 16);
    n.hold.push_back(m);
    held_++;
}

std::deque<rte_mbuf*> SlowPath::neigh_take_held(Neighbor& n) {
    std::deque<rte_mbuf*> held;
    held.swap(n.hold);
    held_ -= unsigned(held.size());
    return held;
}

// A held packet that will not leave: a made one is counted apart.
void SlowPath::drop_held(rte_mbuf* m, DropReason why) {
    if (get_meta(m).generated) drop_generated(m);
    else drop(m, why);
}

void SlowPath::neigh_learn(uint16_t port, const IpAddr& ip, const rte_ether_addr& mac,
                           NeighState state) {
    if (ip == IpAddr::v4(0) || is_ours(vrf_of(port), ip)) return;
    Neighbor* n = neigh_find(port, ip);
    if (n == nullptr) {
        if (!connected(port, ip) || (n = neigh_new(port, ip)) == nullptr) return;
    } else if (n->state == NeighState::permanent) {
        return;
    } else if (state == NeighState::stale && usable(n->state) &&
               rte_is_same_ether_addr(&n->mac, &mac)) {
        return;  // nothing new: keep the state it has
    }
    neigh_update(*n, mac, state);
}

void SlowPath::neigh_update(Neighbor& n, const rte_ether_addr& mac, NeighState state) {
    n.mac = mac;
    n.state = state;
    n.probes = 0;
    n.changed_ms = now_ms();
    n.deadline_ms = n.changed_ms + (state == NeighState::reachable ? config_.reachable_ms
                                                                  : config_.stale_ms);
    neigh_publish(n);
    // Held packets leave in the order they came, through the same decision.
    for (rte_mbuf* m : neigh_take_held(n)) route_again(m);
}

void SlowPath::neigh_fail(Neighbor& n) {
    n.state = NeighState::failed;
    n.changed_ms = now_ms();
    n.deadline_ms = n.changed_ms + config_.failed_ms;
    neigh_publish(n);
    for (rte_mbuf* m : neigh_take_held(n)) {
        const PacketMeta meta = get_meta(m);
        if (!meta.generated) host_unreachable(m, meta.port);
        drop_held(m, DropReason::neighbor_unreachable);
    }
}

void SlowPath::neigh_publish(Neighbor& n) {
    NextHop hop = port_hop(n.port, usable(n.state)                  ? HopAction::forward
                                   : n.state == NeighState::failed ? HopAction::unreachable
                                                                   : HopAction::resolve);
    hop.dst = n.mac;
    for (uint32_t id : n.gateway_of) hops_.set(id, hop);
    // Hosts on a connected subnet get a route of their own once there is
    // something to say about them; until then the connected route punts.
    // (Link-local ones need none: workers never route to them.)
    if (!connected(n.port, n.ip) || n.ip.link_local()) return;
    const uint8_t host = n.ip.is_v4() ? 32 : 128;
    if (n.host_hop == 0) {
        if (n.state == NeighState::incomplete || free_hops_.empty()) return;
        if (fib_get(vrf_of(n.port), n.ip, host)) return;  // a user host route (or our own) is already there
        n.host_hop = free_hops_.back();
        free_hops_.pop_back();
        hops_.set(n.host_hop, hop);
        route_install(vrf_of(n.port), n.ip, host, n.host_hop);
        n.host_route = true;
        return;
    }
    hops_.set(n.host_hop, hop);
}

void SlowPath::neigh_forget(Neighbor& n) {
    if (n.host_route) route_uninstall(vrf_of(n.port), n.ip, n.ip.is_v4() ? 32 : 128);
    if (n.host_hop != 0) {
        hops_.remove(n.host_hop);
        free_hops_.push_back(n.host_hop);
    }
    for (rte_mbuf* m : neigh_take_held(n)) drop_held(m, DropReason::neighbor_unreachable);
    for (uint32_t id : n.gateway_of) {
        NextHop hop = port_hop(n.port, HopAction::resolve);
        hops_.set(id, hop);
        gateways_.erase(id);
    }
    neighbors_.erase({n.port, n.ip});
}

void SlowPath::neigh_timers() {
    const uint64_t now = now_ms();
    std::vector<NeighKey> forget;
    for (auto& [key, n] : neighbors_) {
        if (n.state == NeighState::permanent || now < n.deadline_ms) continue;
        switch (n.state) {
        case NeighState::incomplete:
        case NeighState::probe:
            if (n.probes < config_.probes) {
                neigh_solicit(n, n.state == NeighState::probe);
                n.probes++;
                n.deadline_ms = now + config_.retrans_ms;
            } else {
                neigh_fail(n);
            }
            break;
        case NeighState::reachable:
            n.state = NeighState::stale;
            n.changed_ms = now;
            n.deadline_ms = now + config_.stale_ms;
            break;
        case NeighState::stale:
            n.state = NeighState::probe;
            n.changed_ms = now;
            n.probes = 1;
            n.deadline_ms = now + config_.retrans_ms;
            neigh_solicit(n, true);
            break;
        case NeighState::failed:
            // Hosts are forgotten; gateways stay failed until traffic or a
            // reply revives them.
            if (n.gateway_of.empty()) forget.push_back(key);
            break;
        case NeighState::permanent:
            break;
        }
    }
    for (const NeighKey& key : forget) neigh_forget(neighbors_.at(key));
}

// ---- control ----

void SlowPath::neighbor_add(uint16_t port, const IpAddr& ip, const rte_ether_addr& mac) {
    if (is_ours(vrf_of(port), ip)) throw NeighborError(format_ip(ip) + ": is our own address");
    if (rte_is_multicast_ether_addr(&mac) || rte_is_zero_ether_addr(&mac))
        throw NeighborError(format_ip(ip) + ": a neighbour's MAC must be unicast");
    Neighbor* n = neigh_find(port, ip);
    if (n == nullptr) n = &neigh_new_or_throw(port, ip);
    neigh_update(*n, mac, NeighState::permanent);
}

void SlowPath::neighbor_delete(uint16_t port, const IpAddr& ip) {
    Neighbor* n = neigh_find(port, ip);
    if (n == nullptr) throw NeighborError(format_ip(ip) + ": no such neighbour on this port");
    if (!n->gateway_of.empty()) neigh_restart(*n);  // a gateway: resolve it again
    else neigh_forget(*n);
}

std::vector<NeighborInfo> SlowPath::neighbors() const {
    std::vector<NeighborInfo> out;
    const uint64_t now = now_ms();
    for (const auto& [key, n] : neighbors_)
        out.push_back({n.port, n.ip, n.mac, n.state, unsigned(n.hold.size()), now - n.changed_ms});
    return out;
}

unsigned SlowPath::held_packets(bool generated) const {
    unsigned n = 0;
    for (const auto& [key, neighbor] : neighbors_)
        for (const rte_mbuf* m : neighbor.hold) n += (get_meta(m).generated != 0) == generated;
    return n;
}

void SlowPath::gateway_set(uint32_t hop_id, uint16_t port, const IpAddr& gateway) {
    if (is_ours(vrf_of(port), gateway))
        throw NextHopError("next hop " + std::to_string(hop_id) + ": gateway " +
                           format_ip(gateway) + " is our own address");
    Neighbor* n = neigh_find(port, gateway);
    if (n == nullptr) {
        n = &neigh_new_or_throw(port, gateway);
        n->gateway_of.push_back(hop_id);
        gateways_[hop_id] = {port, gateway};
        neigh_restart(*n);  // resolve now, not on the first packet
        return;
    }
    if (std::find(n->gateway_of.begin(), n->gateway_of.end(), hop_id) == n->gateway_of.end())
        n->gateway_of.push_back(hop_id);
    gateways_[hop_id] = {port, gateway};
    neigh_publish(*n);
}

void SlowPath::gateway_clear(uint32_t hop_id) {
    auto it = gateways_.find(hop_id);
    if (it == gateways_.end()) return;
    auto nit = neighbors_.find(it->second);
    gateways_.erase(it);
    if (nit == neighbors_.end()) return;
    Neighbor& n = nit->second;
    n.gateway_of.erase(std::remove(n.gateway_of.begin(), n.gateway_of.end(), hop_id),
                       n.gateway_of.end());
    if (n.gateway_of.empty() && n.state != NeighState::permanent && !connected(n.port, n.ip))
        neigh_forget(n);
}

std::optional<IpAddr> SlowPath::gateway_of(uint32_t hop_id) const {
    auto it = gateways_.find(hop_id);
    if (it == gateways_.end()) return std::nullopt;
    return it->second.ip;
}

}  // namespace appliance
