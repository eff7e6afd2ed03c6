// The exact-match rule calls of the control API, one table per family.
#pragma once

#include <vector>

#include "core/control.h"
#include "core/errors.h"
#include "rules/flow.h"

namespace appliance {

class RuleControl {
public:
    RuleControl(const ControlContext& ctl, FlowTable& flows, FlowTable6& flows6)
        : ctl_(ctl), flows_(flows), flows6_(flows6) {}

    void add(const Rule& rule) { add_to(flows_, rule); }
    void add(const Rule6& rule) { add_to(flows6_, rule); }
    void remove(const FlowKey& key) { remove_from(flows_, key); }
    void remove(const FlowKey6& key) { remove_from(flows6_, key); }
    std::vector<Rule> list4() { return list_of(flows_); }
    std::vector<Rule6> list6() { return list_of(flows6_); }
    size_t count();

private:
    // One body for both families: the table is the one of the key's type.
    template <class Table>
    void add_to(Table& table, const typename Table::RuleT& rule) {
        const auto lock = ctl_.lock();
        if (rule.action != RuleAction::forward && rule.action != RuleAction::drop)
            throw RuleError("rule " + describe(rule.key) + ": action must be forward or drop");
        table.add(rule);
    }
    template <class Table, class Key>
    void remove_from(Table& table, const Key& key) {
        const auto lock = ctl_.lock();
        table.remove(key);
    }
    template <class Table>
    std::vector<typename Table::RuleT> list_of(const Table& table) {
        const auto lock = ctl_.lock();
        return table.list();
    }

    const ControlContext& ctl_;
    FlowTable& flows_;
    FlowTable6& flows6_;
};

}  // namespace appliance
