#include "ct/ct_stage.h"

#include <netinet/in.h>

#include "nat/nat_rewrite.h"
#include "nat/nat_session.h"
#include "nexthop/ecmp.h"

namespace appliance {

namespace {

constexpr uint8_t kMissed = 1, kFull = 2, kNoPort = 3;  // CtEarly::missed

uint8_t* ip_of(rte_mbuf* m) { return rte_pktmbuf_mtod_offset(m, uint8_t*, sizeof(rte_ether_hdr)); }
uint32_t ip_room(const rte_mbuf* m) {
    const uint32_t eth = sizeof(rte_ether_hdr);  // (a sub-interface's tag is off by now)
    return rte_pktmbuf_data_len(m) > eth ? rte_pktmbuf_data_len(m) - eth : 0;
}
// What a packet's session is found by: a flow's own key; an ICMP error's,
// the reverse of the packet it quotes (the key a reply to that one has), as
// the quoted packet left translated.
void ct_parse(rte_mbuf* m, bool v6, uint16_t vrf, CtParsed& p) {
    const uint8_t* ip = ip_of(m);
    if (v6)
        ct_parse6(ip, ip_room(m), vrf, p);
    else
        ct_parse4(ip, ip_room(m), vrf, p);
    if (p.kind == CtPacket::icmp_error) p.key = p.key.reversed();
}

// The packets of a burst to look up: parsed one by one, then looked up at once
// (their cache misses overlap).
struct LookupBatch {
    CtParsed parsed[kBurstSize];
    uint16_t at[kBurstSize];  // the packet's index in the burst
    uint16_t n = 0;
    CtSession* found[kBurstSize];
    CtDir dirs[kBurstSize];

    CtParsed& next() { return parsed[n]; }  // filled, then kept by keep(i) or dropped
    void keep(uint16_t i) { at[n++] = i; }
    void lookup(const CtTable& ct) {
        const CtKey* keys[kBurstSize];
        for (uint16_t j = 0; j < n; ++j) keys[j] = &parsed[j].key;
        ct.lookup_bulk(keys, n, found, dirs);
    }
};

// Too big for the next hop with DF set: the slow path answers it with an
// ICMP error, which must quote the packet as its sender sent it. (Only a
// resolved hop knows its MTU: one waiting for ARP has none yet.)
bool needs_frag_error(rte_mbuf* m, const NextHop& hop) {
    const auto* h = reinterpret_cast<const rte_ipv4_hdr*>(ip_of(m));
    return hop.action == HopAction::forward && __builtin_bswap16(h->total_length) > hop.mtu &&
           (h->fragment_offset & RTE_BE16(RTE_IPV4_HDR_DF_FLAG)) != 0;
}

// A port forward's (or 1:1 address's) session for `k`, addressed to its public
// side. From the inside (hairpin, RFC 4787 REQ-9) the source is translated too,
// to the host's mapping on the public address, so the server answers through us.
CtSession* start_forwarded(WorkerContext& w, const NatForward& f, const CtParsed& p, bool hairpin,
                           uint64_t now, CtKey* to, uint8_t* verdict) {
    CtTable& ct = *w.tables.ct;
    NatTable& nat = *w.tables.nat;
    *to = with_destination(p.key, f.to_addr, f.to_port);
    uint32_t mapping = kNoMapping;
    if (hairpin) {
        const NatIfaceRules& r = nat.rules().ifaces[f.iface];
        const NatMapped mp = nat.acquire(p.key.proto, key_ipv4(p.key.src), p.key.sport, f.public_addr,
                                         r.port_lo, r.port_hi);
        if (mp.mapping == kNoMapping) {
            *verdict = kNoPort;
            return nullptr;
        }
        mapping = mp.mapping;
        *to = with_source(*to, mp.addr, mp.port);
    }
    CtSession* s = ct.create(p.key, to->reversed(), p.tcp_flags, now, mapping);
    if (s == nullptr) {
        nat.release(mapping);
        *verdict = kFull;
        return nullptr;
    }
    w.stats->ct_created++;
    return s;
}

}  // namespace

void nat_prerouting(WorkerContext& w, uint16_t in_port, rte_mbuf* const* pkts, uint16_t n,
                    uint32_t* dst_host, CtEarly& early) {
    CtTable& ct = *w.tables.ct;
    const NatRules& rules = w.tables.nat->rules();
    LookupBatch batch;
    for (uint16_t i = 0; i < n; ++i) {
        early.session[i] = nullptr;
        early.missed[i] = 0;
        CtParsed& p = batch.next();
        ct_parse(pkts[i], false, w.tables.iface_vrf[in_port], p);
        if (p.kind == CtPacket::flow || p.kind == CtPacket::icmp_error) batch.keep(i);
    }
    if (batch.n == 0) return;
    batch.lookup(ct);
    const uint64_t now = ct_now_ms();
    for (uint16_t j = 0; j < batch.n; ++j) {
        const CtParsed& p = batch.parsed[j];
        const uint16_t i = batch.at[j];
        CtSession* s = batch.found[j];
        unsigned d = unsigned(batch.dirs[j]);
        if (s != nullptr) {
            if (p.kind == CtPacket::flow) ct.touch(*s, batch.dirs[j], p.tcp_flags, now);
            if (s->translated) nat_translate(ip_of(pkts[i]), ip_room(pkts[i]), *s, d, p.kind);
        } else if (p.kind == CtPacket::flow &&
                   !(p.key.echo() && p.key.echo_reply)) {
            const NatForward* f = rules.forward_to(p.key.proto, key_ipv4(p.key.dst), p.key.dport);
            CtKey to;
            if (f == nullptr ||
                (s = start_forwarded(w, *f, p, false, now, &to, &early.missed[i])) == nullptr) {
                if (early.missed[i] == 0) early.missed[i] = kMissed;
                continue;
            }
            d = 0;
            nat_rewrite4(ip_of(pkts[i]), ip_room(pkts[i]), to);
        } else {
            early.missed[i] = kMissed;
            continue;
        }
        early.session[i] = s;
        early.dir[i] = uint8_t(d);
        dst_host[i] = __builtin_bswap32(reinterpret_cast<const rte_ipv4_hdr*>(ip_of(pkts[i]))->dst_addr);
    }
}

namespace {

// kNat: some interface translates (IPv4). Without, the NAT tests compile away:
// a stateful firewall's path measured 20 cycles a packet faster for it.
template <bool kNat>
void postrouting(WorkerContext& w, uint16_t in_port, bool v6, rte_mbuf* const* pkts, uint16_t n,
                 uint32_t* ids, const CtEarly* early) {
    CtTable& ct = *w.tables.ct;
    const NextHopTable& hops = *w.tables.hops;
    const bool from_outside = ct.stateful(in_port);
    constexpr bool nat = kNat;
    const NatRules* rules = nat ? &w.tables.nat->rules() : nullptr;
    // Whether a next hop's packets are tracked, and how: the same for every
    // packet of the burst to it (worked out once per run of them).
    struct Verdict {
        bool track = false;
        bool to_us = false;    // addressed to us: a translated reply or a forward (hairpin)
        bool out_nat = false;  // leaving by a translating interface
        uint16_t vrf = 0;      // sessions are kept in the VRF of the interface they come in or leave by
    };
    const auto verdict = [&](uint32_t id) {
        Verdict v;
        const NextHop* hop = id < kRuleDrop ? hops.get(id) : nullptr;
        if (hop == nullptr) return v;
        v.to_us = nat && hop->action == HopAction::local && !rules->outside[in_port];
        // Only what leaves (now, or once its neighbour resolves) is filtered.
        if (!v.to_us && hop->action != HopAction::forward && hop->action != HopAction::resolve) return v;
        v.out_nat = nat && !v.to_us && rules->outside[hop->iface];
        v.track = from_outside || v.to_us || v.out_nat || ct.stateful(hop->iface);
        v.vrf = w.tables.iface_vrf[from_outside || v.to_us ? in_port : hop->iface];
        return v;
    };
    uint32_t last_id = kNoRoute;
    Verdict last = verdict(last_id);
    // First the packets to look up (their keys), then one bulk lookup, then the decisions.
    LookupBatch batch;
    bool local[kBurstSize];  // Verdict::to_us, by batch position
    for (uint16_t i = 0; i < n; ++i) {
        const NextHop* hop = ids[i] < kRuleDrop ? hops.get(ids[i]) : nullptr;
        if (kNat && early != nullptr && early->session[i] != nullptr) {
            // Prerouting's (translated already): a packet that must earn a
            // "fragmentation needed" goes back as it came, for the error to quote.
            const CtSession& s = *early->session[i];
            if (s.translated && hop != nullptr && hop->action == HopAction::forward &&
                needs_frag_error(pkts[i], *hop))
                nat_rewrite4(ip_of(pkts[i]), ip_room(pkts[i]), s.key[early->dir[i]]);
            continue;
        }
        if (kNat && early != nullptr && early->missed[i] >= kFull) {
            ids[i] = early->missed[i] == kFull ? ct.full_hop() : ct.no_port_hop();
            continue;
        }
        if (hop != nullptr && hop->action == HopAction::group)  // the member the output would take
            ids[i] = group_member(hops, ids[i], pkts[i]);
        if (ids[i] != last_id) {
            last_id = ids[i];
            last = verdict(ids[i]);
        }
        if (!last.track) continue;
        if (kNat && from_outside && early != nullptr && early->missed[i] == kMissed) {
            ids[i] = ct.refused_hop();  // looked up before the route: of no session
            continue;
        }
        const bool to_us = last.to_us, out_nat = last.out_nat;
        CtParsed& p = batch.next();
        ct_parse(pkts[i], v6, last.vrf, p);
        if (from_outside) {
            // Non-first fragments pass: the first, with the ports, was checked, and
            // without it nothing can be reassembled (as most firewalls that do not
            // reassemble; Linux reassembles before conntrack).
            if (p.kind == CtPacket::fragment) continue;
            if (p.kind == CtPacket::untracked) {
                ids[i] = ct.refused_hop();
                continue;
            }
        } else if (p.kind != CtPacket::flow && !(p.kind == CtPacket::icmp_error && (out_nat || to_us))) {
            continue;  // the inside's fragments and the untracked go out; its ICMP errors unless translated
        }
        local[batch.n] = to_us;
        batch.keep(i);
    }
    if (batch.n == 0) return;
    batch.lookup(ct);
    const uint64_t now = ct_now_ms();
    for (uint16_t j = 0; j < batch.n; ++j) {
        const CtParsed& p = batch.parsed[j];
        const uint16_t i = batch.at[j];
        CtSession* s = batch.found[j];
        if (s != nullptr) {
            if (p.kind == CtPacket::flow) ct.touch(*s, batch.dirs[j], p.tcp_flags, now);
            if (!kNat || !s->translated) continue;  // (an ICMP error about a session: related)
            const NextHop* hop = hops.get(ids[i]);
            if (!local[j] && hop != nullptr && needs_frag_error(pkts[i], *hop)) continue;
            nat_translate(ip_of(pkts[i]), ip_room(pkts[i]), *s, unsigned(batch.dirs[j]), p.kind);
            if (local[j]) ids[i] = w.tables.fib[in_port]->table().lookup(
                              __builtin_bswap32(reinterpret_cast<const rte_ipv4_hdr*>(ip_of(pkts[i]))->dst_addr),
                              kNoRoute);
            continue;
        }
        if (local[j]) {  // hairpin: an inside host to a port forward's public side
            const NatForward* f = p.kind == CtPacket::flow
                                      ? rules->forward_to(p.key.proto, key_ipv4(p.key.dst), p.key.dport)
                                      : nullptr;
            if (f == nullptr || (p.key.echo() && p.key.echo_reply)) continue;  // for us indeed
            CtKey to;
            uint8_t verdict = 0;
            if (start_forwarded(w, *f, p, true, now, &to, &verdict) == nullptr) {
                ids[i] = verdict == kFull ? ct.full_hop() : ct.no_port_hop();
                continue;
            }
            nat_rewrite4(ip_of(pkts[i]), ip_room(pkts[i]), to);
            ids[i] = w.tables.fib[in_port]->table().lookup(__builtin_bswap32(key_ipv4(to.dst)), kNoRoute);
            continue;
        }
        if (from_outside) {
            ids[i] = ct.refused_hop();
            continue;
        }
        if (p.kind != CtPacket::flow || (p.key.echo() && p.key.echo_reply))
            continue;  // an echo reply starts nothing (Linux: invalid); nor an error: out untracked
        const NextHop* hop = hops.get(ids[i]);
        CtKey to = p.key;
        uint32_t mapping = kNoMapping;
        if (nat && rules->outside[hop->iface]) {
            if (needs_frag_error(pkts[i], *hop)) continue;  // its error goes to the inside source
            if (!source_nat(*w.tables.nat, *rules, hop->iface, p.key, &to, &mapping)) {
                ids[i] = ct.no_port_hop();
                continue;
            }
        }
        s = ct.create(p.key, to.reversed(), p.tcp_flags, now, mapping);
        if (s == nullptr) {
            w.tables.nat->release(mapping);
            ids[i] = ct.full_hop();
            continue;
        }
        w.stats->ct_created++;
        if (s->translated) nat_rewrite4(ip_of(pkts[i]), ip_room(pkts[i]), to);
    }
}

}  // namespace

void ct_stage(WorkerContext& w, uint16_t in_port, bool v6, rte_mbuf* const* pkts, uint16_t n,
              uint32_t* ids, const CtEarly* early) {
    if (!v6 && w.tables.ct->nat())
        postrouting<true>(w, in_port, false, pkts, n, ids, early);
    else
        postrouting<false>(w, in_port, v6, pkts, n, ids, nullptr);
}

}  // namespace appliance
