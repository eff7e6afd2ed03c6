#include "acl/acl_table.h"

#include "core/errors.h"

namespace appliance {

AclTable::AclTable(size_t ports, unsigned workers, AclHops hops, uint64_t max_bytes, Rcu& rcu)
    : workers_(workers), hops_(hops), max_bytes_(max_bytes), rcu_(rcu) {
    for (int d = 0; d < 2; ++d) {
        names_[d].resize(ports);
        slots_[d] = std::make_unique<std::atomic<const AclClassifier*>[]>(ports);
        for (size_t p = 0; p < ports; ++p) slots_[d][p].store(nullptr);
    }
}

const AclClassifier* AclTable::compiled(const std::string& name) const {
    auto it = acls_.find(name);
    return it == acls_.end() ? nullptr : it->second.compiled.get();
}

void AclTable::publish(const std::string& name, const AclClassifier* compiled) {
    for (int d = 0; d < 2; ++d)
        for (size_t p = 0; p < names_[d].size(); ++p)
            if (names_[d][p] == name) slots_[d][p].store(compiled, std::memory_order_release);
}

std::vector<RetiredCount> AclTable::set(const std::string& name, const AclDef& def) {
    auto fresh = std::make_unique<AclClassifier>(def, hops_, workers_, max_bytes_);  // may throw: nothing changed
    auto it = acls_.find(name);
    if (it == acls_.end()) {
        Acl acl{def, std::move(fresh), std::vector<AclCount>(def.entries.size() + 1)};
        acls_.emplace(name, std::move(acl));
        return {};
    }
    Acl& acl = it->second;
    publish(name, fresh.get());
    rcu_.synchronize();  // no worker still classifies with the old one: its counts are final
    std::vector<AclCount> old = acl.compiled->totals();
    for (size_t r = 0; r < old.size(); ++r) old[r] += acl.base[r];

    std::vector<AclCount> base(def.entries.size() + 1);
    std::vector<bool> carried(old.size(), false);
    if (def.default_action == acl.def.default_action) {
        base[0] = old[0];
        carried[0] = true;
    }
    for (size_t i = 0; i < def.entries.size(); ++i) {
        for (size_t j = 0; j < acl.def.entries.size(); ++j) {
            if (!carried[j + 1] && acl.def.entries[j] == def.entries[i]) {
                base[i + 1] = old[j + 1];
                carried[j + 1] = true;
                break;
            }
        }
    }
    std::vector<RetiredCount> retired;
    for (size_t r = 0; r < old.size(); ++r)
        if (!carried[r]) retired.push_back({int(r) - 1, old[r]});
    acl = Acl{def, std::move(fresh), std::move(base)};
    return retired;
}

void AclTable::remove(const std::string& name) {
    auto it = acls_.find(name);
    if (it == acls_.end()) return;
    rcu_.synchronize();  // an unbind just before may still be in a worker's hands
    acls_.erase(it);
}

void AclTable::bind(uint16_t port, AclDirection dir, const std::string& name) {
    const int d = int(dir);
    const bool was = !names_[d][port].empty();
    names_[d][port] = name;
    slots_[d][port].store(name.empty() ? nullptr : compiled(name), std::memory_order_release);
    if (dir == AclDirection::out && was != !name.empty()) {
        if (was) outs_.fetch_sub(1, std::memory_order_relaxed);
        else outs_.fetch_add(1, std::memory_order_relaxed);
    }
}

AclView AclTable::view(const std::string& name) const {
    const Acl& acl = acls_.at(name);
    AclView v{acl.def, acl.compiled->totals(), acl.compiled->memory(), bindings(name)};
    for (size_t r = 0; r < v.counts.size(); ++r) v.counts[r] += acl.base[r];
    return v;
}

std::vector<std::pair<uint16_t, AclDirection>> AclTable::bindings(const std::string& name) const {
    std::vector<std::pair<uint16_t, AclDirection>> out;
    for (int d = 0; d < 2; ++d)
        for (size_t p = 0; p < names_[d].size(); ++p)
            if (names_[d][p] == name) out.push_back({uint16_t(p), AclDirection(d)});
    return out;
}

std::vector<AclSummary> AclTable::summaries() const {
    std::vector<AclSummary> out;
    for (const auto& [name, acl] : acls_) {
        AclSummary s{name, acl.def.entries.size(), {}};
        const std::vector<AclCount> counts = acl.compiled->totals();
        for (size_t r = 0; r < counts.size(); ++r) {
            const AclAction a = r == 0 ? acl.def.default_action : acl.def.entries[r - 1].action;
            s.by_action[size_t(a)] += counts[r];
            s.by_action[size_t(a)] += acl.base[r];
        }
        out.push_back(std::move(s));
    }
    return out;
}

std::vector<std::string> AclTable::names() const {
    std::vector<std::string> out;
    for (const auto& [name, acl] : acls_) out.push_back(name);
    return out;
}

}  // namespace appliance
