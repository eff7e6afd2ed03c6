#include "trace/bpf_filter.h"

#include <pcap/pcap.h>  // before rte_bpf.h: its struct bpf_program

#include <rte_bpf.h>
#include <rte_errno.h>
#include <rte_malloc.h>

#include "core/errors.h"

namespace appliance {

rte_bpf* compile_filter(const std::string& expr, uint32_t snaplen, const std::string& what) {
    pcap_t* pcap = pcap_open_dead(DLT_EN10MB, int(snaplen));
    if (pcap == nullptr) throw CaptureError(what + ": libpcap could not start");
    bpf_program program{};
    if (pcap_compile(pcap, &program, expr.c_str(), 1, PCAP_NETMASK_UNKNOWN) != 0) {
        const std::string why = pcap_geterr(pcap);
        pcap_close(pcap);
        throw CaptureError(what + " '" + expr + "': " + why);
    }
    rte_bpf_prm* prm = rte_bpf_convert(&program);
    pcap_freecode(&program);
    pcap_close(pcap);
    if (prm == nullptr)
        throw CaptureError(what + " '" + expr + "': cannot convert it to eBPF: " + dpdk_strerror(rte_errno));
    rte_bpf* bpf = rte_bpf_load(prm);
    rte_free(prm);
    if (bpf == nullptr) throw CaptureError(what + " '" + expr + "': eBPF refused it: " + dpdk_strerror(rte_errno));
    return bpf;
}

}  // namespace appliance
