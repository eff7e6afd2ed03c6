// The IPv6 stage of a worker's burst (forward6.cpp).
#pragma once

#include "core/worker.h"

namespace appliance {

// Checks, looks up and rewrites IPv6 packets into the worker's tx batches
// (sent with the IPv4 ones); what it does not forward is punted to the slow
// path or dropped and counted. `in_port`: the index of the port they came in on.
void forward6_burst(WorkerContext& w, uint16_t in_port, rte_mbuf** pkts, uint16_t n);

}  // namespace appliance
