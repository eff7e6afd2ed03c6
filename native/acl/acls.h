// The ACL calls of the control API: define or replace an ACL whole, delete
// it, bind it to a port's input or output, read it back with its counters.
#pragma once

#include <string>
#include <vector>

#include "acl/acl_table.h"
#include "core/control.h"

namespace appliance {

class AclControl {
public:
    AclControl(const ControlContext& ctl, AclTable& table, uint32_t max_entries)
        : ctl_(ctl), table_(table), max_entries_(max_entries) {}

    // All or nothing: AclError names the entry at fault, ResourceError a
    // build that does not fit; the ACL in force then stays as it was.
    std::vector<RetiredCount> set(const std::string& name, const AclDef& def);
    void remove(const std::string& name);  // refused while bound
    void bind(const std::string& port, AclDirection dir, const std::string& name);  // "": unbind
    std::vector<std::string> names();
    std::vector<AclSummary> summaries();
    AclView view(const std::string& name);
    std::string bound(const std::string& port, AclDirection dir);

private:
    void check(const std::string& name, const AclDef& def) const;
    void check_entry(const AclEntry& e, size_t index) const;
    std::string bound_text(const std::vector<std::pair<uint16_t, AclDirection>>& where) const;

    const ControlContext& ctl_;
    AclTable& table_;
    const uint32_t max_entries_;
};

}  // namespace appliance
