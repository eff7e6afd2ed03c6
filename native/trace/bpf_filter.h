// A tcpdump (pcap-filter) expression for Ethernet frames, compiled by
// libpcap and run by libpcap's classic BPF interpreter on a packet's first
// segment: capture filters and trace matches.
//
// Not DPDK's rte_bpf (rte_bpf_convert, as dpdk-dumpcap does): in DPDK 22.11
// a byte load at an offset from the index register (`icmp[0] == 8`,
// `tcp[tcpflags] & tcp-syn != 0`) never matches there, interpreted or JITed
// (tests/native/test_capture.py holds such filters).
#pragma once

#include <cstdint>
#include <memory>
#include <string>

struct bpf_program;
struct rte_mbuf;

namespace appliance {

class PacketFilter {
public:
    // CaptureError naming `what` ("filter", "match") and the expression when libpcap refuses it.
    PacketFilter(const std::string& expr, uint32_t snaplen, const std::string& what);
    ~PacketFilter();
    PacketFilter(const PacketFilter&) = delete;
    PacketFilter& operator=(const PacketFilter&) = delete;

    bool matches(const rte_mbuf* m) const;

private:
    std::unique_ptr<bpf_program> program_;  // (pcap.h stays out of the fast path's headers)
};

}  // namespace appliance
