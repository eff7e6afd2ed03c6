// The QSBR variable shared by every table: workers report a quiescent state
// once per loop; the single writer waits for a grace period before freeing.
#pragma once

#include <cstdint>

struct rte_rcu_qsbr;

namespace appliance {

class Rcu {
public:
    explicit Rcu(unsigned max_threads);
    ~Rcu();
    Rcu(const Rcu&) = delete;
    Rcu& operator=(const Rcu&) = delete;

    rte_rcu_qsbr* get() const { return qsv_; }
    // Blocks until every online worker has passed a quiescent point.
    void synchronize();
    // Non-blocking form: a token now, and whether its grace period is over.
    uint64_t start();
    bool passed(uint64_t token);

private:
    rte_rcu_qsbr* qsv_ = nullptr;
};

}  // namespace appliance
