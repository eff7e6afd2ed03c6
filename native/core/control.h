// What every feature's control calls share with the data plane: the one
// table writer (held for the whole call, refused once the data plane is
// closed) and the ports by name. A feature's control class (fib/routes.h,
// nexthop/nexthops.h, ...) is handed one and holds its own tables.
#pragma once

#include <cstdint>
#include <mutex>
#include <string>
#include <vector>

namespace appliance {

class ControlContext {
public:
    ControlContext(std::mutex& writer, const bool& closed, std::string name,
                   std::vector<std::string> ports, uint32_t max_nexthops)
        : writer_(writer), closed_(closed), name_(std::move(name)), ports_(std::move(ports)),
          max_nexthops(max_nexthops) {}

    // The writer lock, after checking the data plane is open (StateError if not).
    std::unique_lock<std::mutex> lock() const;
    uint16_t port_index(const std::string& name) const;  // PortError names the known ones
    const std::string& port_name(uint16_t index) const { return ports_.at(index); }
    size_t port_count() const { return ports_.size(); }  // (interfaces: ports and sub-interfaces)
    // NextHopError unless `id` is one users may set (internal hops live above).
    void check_user_hop(uint32_t id) const;

    bool closed() const { return closed_; }

private:
    std::mutex& writer_;
    const bool& closed_;
    std::string name_;
    std::vector<std::string> ports_;

public:
    const uint32_t max_nexthops;  // user next hop ids are 0..max_nexthops-1
};

}  // namespace appliance
