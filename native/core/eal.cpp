#include "core/eal.h"

#include <rte_eal.h>
#include <rte_errno.h>
#include <rte_lcore.h>
#include <rte_pdump.h>

#include "core/errors.h"

namespace appliance {

namespace {
bool g_initialized = false;
std::vector<std::string> g_args;

std::string joined(const std::vector<std::string>& args) {
    std::string out;
    for (const auto& a : args) out += (out.empty() ? "" : " ") + a;
    return out;
}
}  // namespace

void eal_init(const std::vector<std::string>& args) {
    if (g_initialized) {
        if (args != g_args)
            throw EalError("EAL already initialized in this process with '" + joined(g_args) +
                           "'; cannot re-initialize with '" + joined(args) + "'");
        return;
    }
    std::vector<std::string> owned{"appliance"};
    owned.insert(owned.end(), args.begin(), args.end());
    std::vector<char*> argv;
    for (auto& a : owned) argv.push_back(a.data());
    argv.push_back(nullptr);
    int rc = rte_eal_init(static_cast<int>(owned.size()), argv.data());
    if (rc < 0) {
        // Some EAL failures leave rte_errno at 0; their reason is in its log.
        std::string why = rte_errno != 0 ? dpdk_strerror(rte_errno) : "see the EAL: lines above";
        throw EalError("rte_eal_init(" + joined(args) + ") failed: " + why);
    }
    g_initialized = true;
    g_args = args;
    // Lets dpdk-dumpcap / dpdk-pdump attach as secondary processes. Fails
    // harmlessly with --in-memory (no multi-process), so it is best effort.
    rte_pdump_init();
}

void eal_cleanup() {
    if (!g_initialized) return;
    rte_pdump_uninit();
    rte_eal_cleanup();
    g_initialized = false;
}

bool eal_is_initialized() { return g_initialized; }

const std::vector<std::string>& eal_args() { return g_args; }

std::vector<unsigned> eal_worker_lcores() {
    std::vector<unsigned> out;
    unsigned lcore;
    RTE_LCORE_FOREACH_WORKER(lcore) out.push_back(lcore);
    return out;
}

}  // namespace appliance
