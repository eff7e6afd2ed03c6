#include "kernel/route_sync.h"

#include <poll.h>

#include <chrono>

#include "core/errors.h"
#include "core/netns.h"
#include "kernel/netlink_routes.h"

namespace appliance {

RouteSync::RouteSync(uint32_t table, int receive_buffer, KernelRouteTable& routes,
                     std::mutex& writer, std::string netns)
    : table_(table), receive_buffer_(receive_buffer), netns_(std::move(netns)), routes_(routes),
      writer_(writer) {}

RouteSync::~RouteSync() { stop(); }

void RouteSync::start() {
    if (thread_.joinable()) return;
    stop_.store(false);
    thread_ = std::thread([this] { run(); });
}

void RouteSync::stop() {
    if (!thread_.joinable()) return;
    stop_.store(true);
    thread_.join();
}

std::string RouteSync::last_error() const {
    std::lock_guard<std::mutex> lock(error_lock_);
    return last_error_;
}

void RouteSync::resync(NetlinkRoutes& nl) {
    const auto start = std::chrono::steady_clock::now();
    const std::vector<KernelRoute> routes = nl.dump();
    std::lock_guard<std::mutex> lock(writer_);
    routes_.replace_all(routes);
    RouteSyncStats& s = routes_.stats();
    s.last_dump_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    if (synced_.exchange(true)) s.resyncs++;
}

void RouteSync::run() {
    std::vector<KernelRouteChange> changes;
    while (!stop_.load()) {
        try {
            enter_netns(netns_);  // (this thread only) its socket is bound to that namespace
            // Subscribed before the dump: a change made meanwhile is read after it.
            NetlinkRoutes nl(table_, receive_buffer_);
            resync(nl);
            {
                std::lock_guard<std::mutex> lock(error_lock_);
                last_error_.clear();
            }
            while (!stop_.load()) {
                if (resync_.exchange(false)) resync(nl);
                pollfd p{nl.fd(), POLLIN, 0};
                if (poll(&p, 1, 100) <= 0) continue;
                changes.clear();
                const bool complete = nl.read(&changes);
                {
                    std::lock_guard<std::mutex> lock(writer_);
                    for (const KernelRouteChange& c : changes) routes_.apply(c);
                    if (!complete) routes_.stats().overruns++;
                }
                if (!complete) resync(nl);
            }
        } catch (const std::exception& e) {
            {
                std::lock_guard<std::mutex> lock(error_lock_);
                last_error_ = e.what();
            }
            // Try again in a second (a new socket, a new dump).
            for (int i = 0; i < 10 && !stop_.load(); ++i)
                std::this_thread::sleep_for(std::chrono::milliseconds(100));
        }
    }
}

}  // namespace appliance
