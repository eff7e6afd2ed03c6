#include "core/netns.h"

#include <fcntl.h>
#include <sched.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <exception>
#include <thread>

#include "core/errors.h"

namespace appliance {

void enter_netns(const std::string& name) {
    if (name.empty()) return;
    const std::string path = "/run/netns/" + name;
    const int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        throw PortError("network namespace " + name + ": cannot open " + path + ": " +
                        std::strerror(errno));
    const int rc = setns(fd, CLONE_NEWNET);
    const int error = errno;
    close(fd);
    if (rc != 0)
        throw PortError("network namespace " + name + ": cannot enter it: " + std::strerror(error));
}

void in_netns(const std::string& name, const std::function<void()>& fn) {
    if (name.empty()) return fn();
    std::exception_ptr failed;
    std::thread([&] {
        try {
            enter_netns(name);
            fn();
        } catch (...) {
            failed = std::current_exception();
        }
    }).join();
    if (failed) std::rethrow_exception(failed);
}

}  // namespace appliance
