#include "trace/bpf_filter.h"

#include <pcap/pcap.h>

#include <rte_mbuf.h>

#include "core/errors.h"

namespace appliance {

PacketFilter::PacketFilter(const std::string& expr, uint32_t snaplen, const std::string& what)
    : program_(std::make_unique<bpf_program>()) {
    pcap_t* pcap = pcap_open_dead(DLT_EN10MB, int(snaplen));
    if (pcap == nullptr) throw CaptureError(what + ": libpcap could not start");
    if (pcap_compile(pcap, program_.get(), expr.c_str(), 1, PCAP_NETMASK_UNKNOWN) != 0) {
        const std::string why = pcap_geterr(pcap);
        pcap_close(pcap);
        throw CaptureError(what + " '" + expr + "': " + why);
    }
    pcap_close(pcap);
}

PacketFilter::~PacketFilter() { pcap_freecode(program_.get()); }

bool PacketFilter::matches(const rte_mbuf* m) const {
    pcap_pkthdr header{};
    header.caplen = rte_pktmbuf_data_len(m);  // (the first segment: a filter reads the headers)
    header.len = rte_pktmbuf_pkt_len(m);
    return pcap_offline_filter(program_.get(), &header, rte_pktmbuf_mtod(m, const u_char*)) != 0;
}

}  // namespace appliance
