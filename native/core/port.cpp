#include "core/port.h"

#include <algorithm>
#include <rte_bus_vdev.h>
#include <rte_dev.h>
#include <rte_eth_ring.h>
#include <rte_ethdev.h>
#include <rte_ring.h>

#include <net/if.h>

#include "core/errors.h"
#include "core/tap_link.h"

namespace appliance {

namespace {

// Offloads the fast path can use when the device has them; never required.
constexpr uint64_t kWantedRxOffloads = RTE_ETH_RX_OFFLOAD_IPV4_CKSUM;
constexpr uint64_t kWantedTxOffloads = RTE_ETH_TX_OFFLOAD_MBUF_FAST_FREE;
constexpr uint64_t kWantedRss = RTE_ETH_RSS_IPV4 | RTE_ETH_RSS_NONFRAG_IPV4_TCP |
                                RTE_ETH_RSS_NONFRAG_IPV4_UDP | RTE_ETH_RSS_IPV6 |
                                RTE_ETH_RSS_NONFRAG_IPV6_TCP | RTE_ETH_RSS_NONFRAG_IPV6_UDP;

std::string vdev_name(const std::string& device) { return device.substr(0, device.find(',')); }

void check(int rc, const std::string& what, const std::string& port) {
    if (rc < 0) throw PortError("port " + port + ": " + what + " failed: " + dpdk_strerror(rc));
}

}  // namespace

std::string format_mac(const rte_ether_addr& mac) {
    char buf[RTE_ETHER_ADDR_FMT_SIZE];
    rte_ether_format_addr(buf, sizeof buf, &mac);
    for (char* c = buf; *c; ++c) *c = static_cast<char>(tolower(*c));
    return buf;
}

Port::Port(const PortSpec& spec) : spec_(spec) {
    if (spec_.rx_queues == 0 || spec_.tx_queues == 0)
        throw PortError("port " + spec_.name + ": rx_queues and tx_queues must be >= 1");
    if (spec_.kind == PortKind::ring) {
        create_ring_port();
        return;
    }
    std::string ethdev = spec_.kind == PortKind::vdev ? vdev_name(spec_.device) : spec_.device;
    if (rte_eth_dev_get_port_by_name(ethdev.c_str(), &port_id_) != 0) {
        // Not given to the EAL at init (or removed since): hot-plug it.
        int rc = rte_dev_probe(spec_.device.c_str());
        if (rc < 0)
            throw PortError("port " + spec_.name + ": cannot probe device '" + spec_.device +
                            "': " + dpdk_strerror(rc));
        if (rte_eth_dev_get_port_by_name(ethdev.c_str(), &port_id_) != 0)
            throw PortError("port " + spec_.name + ": device '" + spec_.device +
                            "' probed but no ethdev named '" + ethdev + "' appeared");
    }
    if (!spec_.mac.empty()) pin_mac();
    if (ethdev.rfind("net_tap", 0) == 0) {  // its kernel name, while it is in our namespace
        rte_eth_dev_info info;
        char name[IF_NAMESIZE];
        if (rte_eth_dev_info_get(port_id_, &info) == 0 && if_indextoname(info.if_index, name))
            tap_name_ = name;
    }
}

// A fixed MAC keeps the neighbours' ARP caches valid across restarts.
rte_ether_addr Port::parse_port_mac() const {
    rte_ether_addr mac{};
    if (spec_.mac.size() != 17 || rte_ether_unformat_addr(spec_.mac.c_str(), &mac) != 0 ||
        !rte_is_unicast_ether_addr(&mac) || rte_is_zero_ether_addr(&mac))
        throw PortError("port " + spec_.name + ": mac '" + spec_.mac +
                        "' is not a unicast MAC like 02:00:00:00:00:01");
    return mac;
}

void Port::pin_mac() {
    rte_ether_addr mac = parse_port_mac();
    int rc = rte_eth_dev_default_mac_addr_set(port_id_, &mac);
    if (rc == -ENOTSUP && spec_.kind == PortKind::vdev) {
        // net_pcap, net_null: no filter in the device, so the MAC is only
        // what we answer and accept: keep it ourselves.
        soft_mac_ = mac;
        return;
    }
    if (rc < 0)
        throw PortError("port " + spec_.name + ": device " + spec_.device +
                        " does not take a MAC of our choice: " + dpdk_strerror(rc));
}

void Port::create_ring_port() {
    // The ring PMD keeps a closed device's name registered: every ring port
    // gets a name of its own.
    static unsigned instances = 0;
    std::string base = "rp" + std::to_string(instances++) + "_" + spec_.name;
    ring_vdev_name_ = "net_ring_" + base;
    auto make = [&](const std::string& suffix, uint16_t q, unsigned size) {
        std::string name = base + suffix + std::to_string(q);
        rte_ring* r = rte_ring_create(name.c_str(), rte_align32pow2(size + 1), SOCKET_ID_ANY,
                                      RING_F_SP_ENQ | RING_F_SC_DEQ);
        if (r == nullptr) {
            free_rings();
            throw PortError("port " + spec_.name + ": cannot create ring " + name + ": " +
                            dpdk_strerror(rte_errno));
        }
        return r;
    };
    for (uint16_t q = 0; q < spec_.rx_queues; ++q) rx_rings_.push_back(make("_rx", q, spec_.rx_desc));
    for (uint16_t q = 0; q < spec_.tx_queues; ++q) tx_rings_.push_back(make("_tx", q, spec_.tx_desc));
    int rc = rte_eth_from_rings(ring_vdev_name_.c_str(), rx_rings_.data(),
                                spec_.rx_queues, tx_rings_.data(), spec_.tx_queues,
                                static_cast<unsigned>(rte_socket_id()));
    if (rc < 0) {
        free_rings();
        throw PortError("port " + spec_.name + ": rte_eth_from_rings failed: " +
                        dpdk_strerror(rte_errno));
    }
    port_id_ = static_cast<uint16_t>(rc);
    // Ring ports start with an all-zero MAC and the ring PMD cannot set one
    // (nor filters by it): the port keeps its MAC itself, a locally
    // administered one unless pinned.
    soft_mac_ = rte_ether_addr{{0x02, 0x00, 0x00, 0x00, uint8_t(port_id_ >> 8), uint8_t(port_id_)}};
    if (!spec_.mac.empty()) soft_mac_ = parse_port_mac();
}

void Port::free_rings() {
    for (auto* rings : {&rx_rings_, &tx_rings_}) {
        for (rte_ring* r : *rings) {
            rte_mbuf* m;
            while (rte_ring_dequeue(r, reinterpret_cast<void**>(&m)) == 0) rte_pktmbuf_free(m);
            rte_ring_free(r);
        }
        rings->clear();
    }
}

Port::~Port() {
    stop();
    // Closed here, before the mempools go: a device the EAL closes at
    // cleanup would free its queued mbufs into a freed pool (net_tap did,
    // SIGSEGV at exit). Vdevs are removed so a later Dataplane in this
    // process can probe them again.
    if (is_ring() || spec_.kind == PortKind::vdev) {
        std::string vdev = is_ring() ? ring_vdev_name_ : vdev_name(spec_.device);
        if (rte_vdev_uninit(vdev.c_str()) != 0) rte_eth_dev_close(port_id_);
    } else {
        rte_eth_dev_close(port_id_);
    }
    free_rings();
}

void Port::start(rte_mempool* pool) {
    rte_eth_dev_info info;
    check(rte_eth_dev_info_get(port_id_, &info), "rte_eth_dev_info_get", spec_.name);
    if (spec_.rx_queues > info.max_rx_queues || spec_.tx_queues > info.max_tx_queues)
        throw PortError("port " + spec_.name + ": asks for " + std::to_string(spec_.rx_queues) +
                        " rx / " + std::to_string(spec_.tx_queues) + " tx queues, device " +
                        spec_.device + " supports " + std::to_string(info.max_rx_queues) +
                        " / " + std::to_string(info.max_tx_queues));

    rte_eth_conf conf{};
    const uint64_t strip = spec_.vlan_strip ? RTE_ETH_RX_OFFLOAD_VLAN_STRIP : 0;
    rx_offloads_ = (kWantedRxOffloads | strip) & info.rx_offload_capa;
    tx_offloads_ = kWantedTxOffloads & info.tx_offload_capa;
    conf.rxmode.offloads = rx_offloads_;
    conf.txmode.offloads = tx_offloads_;
    rss_hf_ = spec_.rss && spec_.rx_queues > 1 ? kWantedRss & info.flow_type_rss_offloads : 0;
    if (rss_hf_ != 0) {
        conf.rxmode.mq_mode = RTE_ETH_MQ_RX_RSS;
        conf.rx_adv_conf.rss_conf.rss_hf = rss_hf_;
    }
    check(rte_eth_dev_configure(port_id_, spec_.rx_queues, spec_.tx_queues, &conf),
          "rte_eth_dev_configure", spec_.name);

    uint16_t rx_desc = spec_.rx_desc, tx_desc = spec_.tx_desc;
    check(rte_eth_dev_adjust_nb_rx_tx_desc(port_id_, &rx_desc, &tx_desc), "adjusting descriptors",
          spec_.name);
    if (spec_.mtu != 0) {
        int rc = rte_eth_dev_set_mtu(port_id_, spec_.mtu);
        if (rc != -ENOTSUP) check(rc, "setting MTU " + std::to_string(spec_.mtu), spec_.name);
    }
    int sock = socket();
    rte_eth_rxconf rxq = info.default_rxconf;
    rxq.offloads = rx_offloads_;
    for (uint16_t q = 0; q < spec_.rx_queues; ++q)
        check(rte_eth_rx_queue_setup(port_id_, q, rx_desc, sock, &rxq, pool),
              "rx queue " + std::to_string(q) + " setup", spec_.name);
    rte_eth_txconf txq = info.default_txconf;
    txq.offloads = tx_offloads_;
    for (uint16_t q = 0; q < spec_.tx_queues; ++q)
        check(rte_eth_tx_queue_setup(port_id_, q, tx_desc, sock, &txq),
              "tx queue " + std::to_string(q) + " setup", spec_.name);

    check(rte_eth_dev_start(port_id_), "rte_eth_dev_start", spec_.name);
    started_ = true;
    if (spec_.promiscuous) {
        int rc = rte_eth_promiscuous_enable(port_id_);
        if (rc != -ENOTSUP) check(rc, "enabling promiscuous mode", spec_.name);
    }
    // IPv6 neighbour discovery arrives on multicast MACs (all-nodes and the
    // solicited-node groups of our addresses); workers pass only those on.
    // Best effort: vdevs without a filter deliver every frame anyway.
    rte_eth_allmulticast_enable(port_id_);
}

void Port::stop() {
    if (!started_) return;
    rte_eth_dev_stop(port_id_);
    started_ = false;
}

int Port::socket() const {
    int s = rte_eth_dev_socket_id(port_id_);
    return s < 0 ? 0 : s;
}

rte_ether_addr Port::mac() const {
    if (soft_mac_) return *soft_mac_;
    rte_ether_addr mac{};
    rte_eth_macaddr_get(port_id_, &mac);
    return mac;
}

uint16_t Port::mtu() const {
    if (spec_.mtu != 0) return spec_.mtu;
    uint16_t mtu = RTE_ETHER_MTU;
    if (rte_eth_dev_get_mtu(port_id_, &mtu) != 0 || mtu == 0) mtu = RTE_ETHER_MTU;
    return mtu;
}

bool Port::link_up() const {
    rte_eth_link link{};
    rte_eth_link_get_nowait(port_id_, &link);
    const bool up = link.link_status == RTE_ETH_LINK_UP;
    if (!tap_name_.empty() && started_) return tap_link_up(tap_name_).value_or(up);
    return up;
}

void Port::set_link(bool up) const {
    // -ENOTSUP from devices without the operation: their link is the cable's.
    if (up) rte_eth_dev_set_link_up(port_id_);
    else rte_eth_dev_set_link_down(port_id_);
}

PortState Port::state() const {
    rte_eth_link link{};
    rte_eth_link_get_nowait(port_id_, &link);
    // The IP MTU forwarding uses (the configured one), not the device's frame setting.
    PortState s{spec_.name, spec_.device, port_id_, socket(), format_mac(mac()), link_up(), link.link_speed, mtu(),
                spec_.rx_queues, spec_.tx_queues, rss_hf_, {}};
    for (uint64_t bit = 1; bit != 0; bit <<= 1) {
        if (rx_offloads_ & bit) s.offloads.push_back(rte_eth_dev_rx_offload_name(bit));
        if (tx_offloads_ & bit) s.offloads.push_back(rte_eth_dev_tx_offload_name(bit));
    }
    return s;
}

std::map<std::string, uint64_t> Port::counters() const {
    rte_eth_stats st{};
    rte_eth_stats_get(port_id_, &st);
    std::map<std::string, uint64_t> out{
        {"ipackets", st.ipackets}, {"opackets", st.opackets}, {"ibytes", st.ibytes},
        {"obytes", st.obytes},     {"imissed", st.imissed},   {"ierrors", st.ierrors},
        {"oerrors", st.oerrors},   {"rx_nombuf", st.rx_nombuf}};
    // Per rx queue (ethdev's xstats names): how RSS spread the load over the queues.
    const uint16_t queues = std::min<uint16_t>(spec_.rx_queues, RTE_ETHDEV_QUEUE_STAT_CNTRS);
    if (queues > 1)
        for (uint16_t q = 0; q < queues; ++q)
            out["rx_q" + std::to_string(q) + "_packets"] = st.q_ipackets[q];
    return out;
}

rte_ring* Port::rx_ring(uint16_t q) const {
    if (!is_ring() || q >= rx_rings_.size())
        throw PortError("port " + spec_.name + " has no ring rx queue " + std::to_string(q));
    return rx_rings_[q];
}

rte_ring* Port::tx_ring(uint16_t q) const {
    if (!is_ring() || q >= tx_rings_.size())
        throw PortError("port " + spec_.name + " has no ring tx queue " + std::to_string(q));
    return tx_rings_[q];
}

}  // namespace appliance
