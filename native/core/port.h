// One ethdev port: found or probed from its spec, configured within the
// device's capabilities, started, stopped and closed by its owner.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <rte_ether.h>

struct rte_mempool;
struct rte_ring;

namespace appliance {

enum class PortKind { pci, vdev, ring };

struct PortSpec {
    std::string name;      // the operator's name: "wan0"
    PortKind kind = PortKind::vdev;
    std::string device;    // PCI address, or vdev args "net_null0,no-rx=1"; unused for ring
    uint16_t rx_queues = 1;
    uint16_t tx_queues = 1;
    uint16_t rx_desc = 1024;
    uint16_t tx_desc = 1024;
    uint16_t mtu = 0;      // 0: leave the device default
    bool promiscuous = false;
    std::string mac;       // empty: the device's own (net_tap: random per start)
    bool rss = true;       // RSS over IPv4/IPv6 TCP/UDP when rx_queues > 1
    std::string kernel;    // non-empty: a kernel interface of this name for what the router does not answer
    std::string vrf;       // empty: the default VRF (vrf/vrfs.h)
    bool vlan_strip = false;  // the NIC takes 802.1Q tags off where it can (ports with sub-interfaces)
};

struct PortState {
    std::string name;
    std::string device;
    uint16_t port_id;
    int socket;
    std::string mac;
    bool link_up;
    uint32_t link_speed_mbps;
    uint16_t mtu;
    uint16_t rx_queues, tx_queues;
    uint64_t rss_hash_functions;  // what the device accepted
    std::vector<std::string> offloads;
};

class Port {
public:
    explicit Port(const PortSpec& spec);  // finds or creates the ethdev
    ~Port();                              // stops, closes, removes what it created
    Port(const Port&) = delete;
    Port& operator=(const Port&) = delete;

    // Configures queues with buffers from `pool`, then starts the port.
    void start(rte_mempool* pool);
    void stop();

    const PortSpec& spec() const { return spec_; }
    uint16_t id() const { return port_id_; }
    int socket() const;
    rte_ether_addr mac() const;
    uint16_t mtu() const;  // the IP MTU packets are sent with
    PortState state() const;
    bool link_up() const;          // carrier (net_tap: read through its fd, any namespace)
    void set_link(bool up) const;  // administrative up/down where the device can
    std::map<std::string, uint64_t> counters() const;  // ethdev's names

    // Ring ports only: the rings behind queue q, for inject/drain.
    rte_ring* rx_ring(uint16_t q) const;
    rte_ring* tx_ring(uint16_t q) const;
    bool is_ring() const { return spec_.kind == PortKind::ring; }

private:
    void create_ring_port();
    void pin_mac();
    rte_ether_addr parse_port_mac() const;
    std::string ring_vdev_name_;
    void free_rings();

    PortSpec spec_;
    uint16_t port_id_ = 0;
    bool started_ = false;
    uint64_t rss_hf_ = 0;
    uint64_t rx_offloads_ = 0, tx_offloads_ = 0;
    std::vector<rte_ring*> rx_rings_, tx_rings_;
    std::optional<rte_ether_addr> soft_mac_;
    std::string tap_name_;  // net_tap: the kernel interface
};

std::string format_mac(const rte_ether_addr& mac);

}  // namespace appliance
