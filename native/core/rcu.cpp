#include "core/rcu.h"

#include <rte_malloc.h>
#include <rte_rcu_qsbr.h>

#include "core/errors.h"

namespace appliance {

Rcu::Rcu(unsigned max_threads) {
    if (max_threads == 0) max_threads = 1;
    size_t size = rte_rcu_qsbr_get_memsize(max_threads);
    qsv_ = static_cast<rte_rcu_qsbr*>(rte_zmalloc("appliance_qsbr", size, RTE_CACHE_LINE_SIZE));
    if (qsv_ == nullptr) throw ResourceError("cannot allocate the RCU QSBR variable");
    rte_rcu_qsbr_init(qsv_, max_threads);
}

Rcu::~Rcu() { rte_free(qsv_); }

void Rcu::synchronize() { rte_rcu_qsbr_synchronize(qsv_, RTE_QSBR_THRID_INVALID); }

uint64_t Rcu::start() { return rte_rcu_qsbr_start(qsv_); }

bool Rcu::passed(uint64_t token) { return rte_rcu_qsbr_check(qsv_, token, false) == 1; }

}  // namespace appliance
