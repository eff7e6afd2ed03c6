#include "core/errors.h"

#include <cstdlib>

#include <rte_errno.h>

namespace appliance {

std::string dpdk_strerror(int code) {
    return rte_strerror(std::abs(code));
}

}  // namespace appliance
