// The ACLs by name and what each port has bound in and out. Workers read a
// port's slots (one atomic load per burst); the control thread replaces an
// ACL whole: the new classifier is built first (a failure leaves the old one
// in force), published to every slot that names it, and the old one freed
// after an RCU grace period, so no packet is classified by a mix of the two.
// Counters of entries a change keeps (same entry, same place in the order
// or not) carry over; those of entries it drops are handed back.
#pragma once

#include <atomic>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "acl/classifier.h"
#include "core/rcu.h"

namespace appliance {

enum class AclDirection : uint8_t { in, out };

// Counts an ACL change took out of service: an old entry's index, or -1 for
// the default when its action changed.
struct RetiredCount {
    int entry;
    AclCount count;
};

// What an ACL decided, summed by action (stats: no entry-by-entry copy).
struct AclSummary {
    std::string name;
    size_t entries;
    AclCount by_action[4];  // indexed by AclAction
};

struct AclView {
    AclDef def;
    std::vector<AclCount> counts;  // [0] the default, [i + 1] entry i
    size_t memory;
    std::vector<std::pair<uint16_t, AclDirection>> bound;
};

class AclTable {
public:
    AclTable(size_t ports, unsigned workers, AclHops hops, uint64_t max_bytes, Rcu& rcu);

    // Fast path.
    const AclClassifier* in(uint16_t port) const { return slots_[0][port].load(std::memory_order_acquire); }
    const AclClassifier* out(uint16_t port) const { return slots_[1][port].load(std::memory_order_acquire); }
    bool any_out() const { return outs_.load(std::memory_order_relaxed) != 0; }

    // Control thread, under the writer lock; checks are the caller's (AclControl).
    std::vector<RetiredCount> set(const std::string& name, const AclDef& def);
    void remove(const std::string& name);
    void bind(uint16_t port, AclDirection dir, const std::string& name);  // "": unbind
    bool has(const std::string& name) const { return acls_.count(name) != 0; }
    const AclClassifier* compiled(const std::string& name) const;
    const std::string& bound(uint16_t port, AclDirection dir) const { return names_[int(dir)][port]; }
    AclView view(const std::string& name) const;
    // Where `name` is bound (no copy of its entries: checks on every change use it).
    std::vector<std::pair<uint16_t, AclDirection>> bindings(const std::string& name) const;
    std::vector<std::string> names() const;
    std::vector<AclSummary> summaries() const;
    size_t ports() const { return names_[0].size(); }

private:
    struct Acl {
        AclDef def;
        std::unique_ptr<AclClassifier> compiled;
        std::vector<AclCount> base;  // carried over from earlier versions, by result
    };
    void publish(const std::string& name, const AclClassifier* compiled);

    std::map<std::string, Acl> acls_;
    std::vector<std::string> names_[2];  // per direction, per port: "" when none
    std::unique_ptr<std::atomic<const AclClassifier*>[]> slots_[2];
    std::atomic<unsigned> outs_{0};
    unsigned workers_;
    AclHops hops_;
    uint64_t max_bytes_;  // per context: a build that needs more is refused
    Rcu& rcu_;
};

}  // namespace appliance
