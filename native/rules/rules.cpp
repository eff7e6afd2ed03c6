#include "rules/rules.h"

namespace appliance {

size_t RuleControl::count() {
    const auto lock = ctl_.lock();
    return flows_.size() + flows6_.size();
}

}  // namespace appliance
