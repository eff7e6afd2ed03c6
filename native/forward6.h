// The IPv6 stage of a worker's burst (forward6.cpp).
#pragma once

#include "worker.h"

namespace appliance {

// Checks, looks up and rewrites IPv6 packets into the worker's tx batches
// (sent with the IPv4 ones); what it does not forward is dropped and counted.
void forward6_burst(WorkerContext& w, rte_mbuf** pkts, uint16_t n);

}  // namespace appliance
