// The kernel interface of a port (net_tap, IFF_NOARP on its kernel side, as
// grout does): what arrives for our addresses and the slow path does not
// answer itself (TCP, UDP, routing protocols) goes up to the kernel; what
// the kernel sends comes down here and leaves like a packet the slow path
// made, resolved with our own neighbour table (the kernel never resolves:
// it addresses every frame to its own MAC). A VLAN sub-interface's kernel
// interface is a tap of its own: frames cross it untagged.
#include <rte_ethdev.h>

#include "slowpath/slowpath.h"

namespace appliance {

void SlowPath::to_kernel(rte_mbuf* m, uint16_t in_port) {
    const uint16_t kernel = ports_[in_port].kernel_port_id;
    if (kernel == kNoKernelPort) return drop(m, DropReason::local_unhandled);
    trace_slow(m, TraceSlow::to_kernel, in_port);
    if (rte_eth_tx_burst(kernel, 0, &m, 1) != 1) return drop(m, DropReason::kernel_full);
    stats_.local++;
    stats_.kernel_in++;
}

void SlowPath::poll_kernel(bool* worked) {
    rte_mbuf* pkts[32];
    for (uint16_t p = 0; p < ports_.size(); ++p) {
        const uint16_t kernel = ports_[p].kernel_port_id;
        if (kernel == kNoKernelPort) continue;
        const uint16_t n = rte_eth_rx_burst(kernel, 0, pkts, 32);
        if (n == 0) continue;
        std::lock_guard<std::mutex> lock(writer_);
        for (uint16_t i = 0; i < n; ++i) from_kernel(pkts[i], p);
        *worked = true;
    }
}

void SlowPath::from_kernel(rte_mbuf* m, uint16_t port) {
    stats_.kernel_out++;
    set_trace_id(m, 0);  // the kernel's: never traced (the worker that sends it reads the id)
    const auto* eth = rte_pktmbuf_mtod(m, const rte_ether_hdr*);
    const bool group = rte_is_multicast_ether_addr(&eth->dst_addr);
    if (eth->ether_type == RTE_BE16(RTE_ETHER_TYPE_IPV4) &&
        rte_pktmbuf_data_len(m) >= sizeof(rte_ether_hdr) + sizeof(rte_ipv4_hdr)) {
        if (group) return send(m, port, true);  // multicast and broadcast: as the kernel made them
        set_meta(m, {0, port, PuntKind::ipv4_routed, 1});
        return ipv4_route(m, port, lookup(m, port), true);
    }
    if (eth->ether_type == RTE_BE16(RTE_ETHER_TYPE_IPV6) &&
        rte_pktmbuf_data_len(m) >= sizeof(rte_ether_hdr) + sizeof(rte_ipv6_hdr)) {
        if (group) return send(m, port, true);
        set_meta(m, {0, port, PuntKind::ipv6_routed, 1});
        return ipv6_route(m, port, lookup6(m, port), true);
    }
    drop_generated(m);  // (ARP cannot come: the kernel side does not resolve)
}

}  // namespace appliance
