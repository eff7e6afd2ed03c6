// EAL setup. rte_eal_init may run once per process: the first call
// initializes, later calls with the same arguments are no-ops and with
// different ones are an error naming the difference.
#pragma once

#include <string>
#include <vector>

namespace appliance {

// Initializes the EAL with argv-style arguments (argv[0] is added here),
// then pdump so dpdk-dumpcap can capture. Throws EalError with the EAL's
// reason on failure.
void eal_init(const std::vector<std::string>& args);

// Releases the EAL's resources at process exit; the EAL cannot be used again.
void eal_cleanup();

bool eal_is_initialized();
const std::vector<std::string>& eal_args();

// Worker lcores the EAL knows about (all enabled lcores but the main one).
std::vector<unsigned> eal_worker_lcores();

}  // namespace appliance
