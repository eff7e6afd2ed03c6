#include "acl/acl_entry.h"

#include <tuple>

namespace appliance {

namespace {
auto fields(const AclEntry& e) {
    return std::tie(e.family, e.src, e.dst, e.src_len, e.dst_len, e.proto, e.src_port_lo,
                    e.src_port_hi, e.dst_port_lo, e.dst_port_hi, e.icmp_type, e.icmp_code,
                    e.tcp_flags, e.tcp_mask, e.dscp, e.fragment, e.action, e.nexthop);
}

std::string prefix_text(const IpAddr& a, uint8_t length) {
    return format_ip(a) + "/" + std::to_string(length);
}
}  // namespace

bool AclEntry::operator==(const AclEntry& o) const { return fields(*this) == fields(o); }

bool AclEntry::has_l4() const {
    return src_port_lo != 0 || src_port_hi != 65535 || dst_port_lo != 0 || dst_port_hi != 65535 ||
           icmp_type >= 0 || icmp_code >= 0 || tcp_mask != 0;
}

const char* action_name(AclAction a) {
    switch (a) {
    case AclAction::permit: return "permit";
    case AclAction::deny: return "deny";
    case AclAction::reject: return "reject";
    case AclAction::redirect: return "redirect";
    }
    return "?";
}

std::string describe_entry(const AclEntry& e, size_t index) {
    std::string s = "entry " + std::to_string(index) + " (" + action_name(e.action);
    if (e.proto >= 0) s += " proto " + std::to_string(e.proto);
    if (e.src_len != 0) s += " from " + prefix_text(e.src, e.src_len);
    if (e.dst_len != 0) s += " to " + prefix_text(e.dst, e.dst_len);
    return s + ")";
}

}  // namespace appliance
