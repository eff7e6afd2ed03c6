// A tcpdump (pcap-filter) expression for Ethernet frames, compiled by
// libpcap and loaded as eBPF for rte_bpf to run on an mbuf, as dpdk-dumpcap
// does: capture filters and trace matches.
#pragma once

#include <cstdint>
#include <string>

struct rte_bpf;

namespace appliance {

// CaptureError naming `what` ("filter", "match") and the expression when
// libpcap or rte_bpf refuses it.
rte_bpf* compile_filter(const std::string& expr, uint32_t snaplen, const std::string& what);

}  // namespace appliance
