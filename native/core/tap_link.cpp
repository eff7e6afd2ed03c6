#include "core/tap_link.h"

#include <dirent.h>
#include <fcntl.h>
#include <linux/if_tun.h>
#include <net/if.h>
#include <sched.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <climits>
#include <cstring>
#include <thread>

namespace appliance {

namespace {

// The fd of an open tap named `ifname` (net_tap keeps one per queue).
int find_tap_fd(const std::string& ifname, std::string* current_name) {
    DIR* dir = opendir("/proc/self/fd");
    if (dir == nullptr) return -1;
    int found = -1;
    while (dirent* e = readdir(dir)) {
        char link[PATH_MAX];
        const std::string path = std::string("/proc/self/fd/") + e->d_name;
        ssize_t n = readlink(path.c_str(), link, sizeof link - 1);
        if (n <= 0) continue;
        link[n] = '\0';
        if (std::strcmp(link, "/dev/net/tun") != 0) continue;
        const int fd = atoi(e->d_name);
        ifreq ifr{};
        if (ioctl(fd, TUNGETIFF, &ifr) == 0 && ifname == ifr.ifr_name) {
            found = fd;
            *current_name = ifr.ifr_name;
            break;
        }
    }
    closedir(dir);
    return found;
}

}  // namespace

std::optional<bool> tap_link_up(const std::string& ifname) {
    std::string name;
    const int fd = find_tap_fd(ifname, &name);
    if (fd < 0) return std::nullopt;
    const int netns = ioctl(fd, TUNGETDEVNETNS);
    if (netns < 0) return std::nullopt;
    // setns() changes the calling thread only: ask from a short-lived one.
    std::optional<bool> up;
    std::thread([&] {
        if (setns(netns, CLONE_NEWNET) != 0) return;
        const int sock = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        if (sock < 0) return;
        ifreq ifr{};
        std::strncpy(ifr.ifr_name, name.c_str(), IFNAMSIZ - 1);
        if (ioctl(sock, SIOCGIFFLAGS, &ifr) == 0)
            up = (ifr.ifr_flags & IFF_UP) && (ifr.ifr_flags & IFF_RUNNING);
        close(sock);
    }).join();
    close(netns);
    return up;
}

}  // namespace appliance
