// What NAT's prerouting step found for each packet of a burst, for the stage
// after the route lookup (ct/ct_stage.h). Each worker keeps one (off its
// stack: the burst's own arrays stay where they were).
#pragma once

#include <cstdint>

#include "core/mempool.h"
#include "ct/ct_session.h"

namespace appliance {

struct CtEarly {
    CtSession* session[kBurstSize];
    uint8_t dir[kBurstSize];
    uint8_t missed[kBurstSize];  // 1: looked up, none; 2: the table is full; 3: no port to map
};

}  // namespace appliance
