// Mirrors a kernel routing table into the FIB on a thread of its own: a
// full dump, then every change as it comes; if the kernel drops changes
// (socket buffer overrun) or anything fails, a new dump puts it right, so
// the FIB is never silently stale.
#pragma once

#include <atomic>
#include <mutex>
#include <string>
#include <thread>

#include "kernel/kernel_routes.h"

namespace appliance {

class RouteSync {
public:
    // `netns`: the network namespace whose table it mirrors ("": ours; core/netns.h).
    RouteSync(uint32_t table, int receive_buffer, KernelRouteTable& routes, std::mutex& writer,
              std::string netns = "");
    ~RouteSync();
    void start();
    void stop();
    std::string last_error() const;  // empty: none since the last good dump
    bool synced() const { return synced_.load(); }  // a dump has been applied
    void request_resync() { resync_.store(true); }  // a new dump, as after an overrun

private:
    void run();
    void resync(NetlinkRoutes& nl);

    uint32_t table_;
    int receive_buffer_;
    std::string netns_;
    KernelRouteTable& routes_;
    std::mutex& writer_;
    std::thread thread_;
    std::atomic<bool> stop_{false};
    std::atomic<bool> synced_{false};
    std::atomic<bool> resync_{false};
    mutable std::mutex error_lock_;
    std::string last_error_;
};

}  // namespace appliance
