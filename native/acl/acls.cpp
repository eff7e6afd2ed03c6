#include "acl/acls.h"

#include "core/errors.h"

namespace appliance {

namespace {
constexpr int kTcp = 6, kUdp = 17, kSctp = 132, kIcmp = 1, kIcmp6 = 58;
const char* direction_name(AclDirection d) { return d == AclDirection::in ? "in" : "out"; }

void check_name(const std::string& name) {
    if (name.empty() || name.size() > 64)
        throw AclError("ACL name '" + name + "': 1 to 64 characters");
}
}  // namespace

void AclControl::check_entry(const AclEntry& e, size_t index) const {
    auto fail = [&](const std::string& why) { throw AclError(describe_entry(e, index) + ": " + why); };
    if (e.family != 0 && e.family != 4 && e.family != 6) fail("family must be 4, 6 or 0 (both)");
    const unsigned bits = e.family == 4 ? 32 : 128;
    if (e.family == 0 && (e.src_len != 0 || e.dst_len != 0)) fail("a prefix needs the entry's family");
    if (e.src_len > bits || e.dst_len > bits) fail("prefix length beyond the family's " + std::to_string(bits) + " bits");
    if (e.family == 4 && ((e.src_len != 0 && !e.src.is_v4()) || (e.dst_len != 0 && !e.dst.is_v4())))
        fail("an IPv6 prefix in an IPv4 entry");
    if (e.family == 6 && ((e.src_len != 0 && e.src.is_v4()) || (e.dst_len != 0 && e.dst.is_v4())))
        fail("an IPv4 prefix in an IPv6 entry");
    if (e.proto > 255) fail("protocol beyond 255");
    if (e.src_port_lo > e.src_port_hi) fail("src_port: low end above high end");
    if (e.dst_port_lo > e.dst_port_hi) fail("dst_port: low end above high end");
    const bool ports = e.src_port_lo != 0 || e.src_port_hi != 65535 || e.dst_port_lo != 0 || e.dst_port_hi != 65535;
    if (ports && e.proto != kTcp && e.proto != kUdp && e.proto != kSctp)
        fail("ports need protocol tcp, udp or sctp");
    const bool icmp = e.icmp_type >= 0 || e.icmp_code >= 0;
    if (icmp && !((e.proto == kIcmp && e.family == 4) || (e.proto == kIcmp6 && e.family == 6)))
        fail("ICMP type and code need protocol icmp (IPv4) or ipv6-icmp (IPv6)");
    if (e.icmp_type > 255 || e.icmp_code > 255) fail("ICMP type and code are 0..255");
    if (e.icmp_code >= 0 && e.icmp_type < 0) fail("an ICMP code needs its type");
    if ((e.tcp_flags & ~e.tcp_mask) != 0) fail("tcp_flags sets bits outside its mask");
    if (e.tcp_mask != 0 && e.proto != kTcp) fail("TCP flags need protocol tcp");
    if (e.dscp > 63) fail("DSCP is 0..63");
    if (e.fragment == 1 && e.has_l4()) fail("a non-first fragment has no ports, ICMP type or TCP flags to match");
    if (e.action == AclAction::redirect) {
        try {
            ctl_.check_user_hop(e.nexthop);
        } catch (const NextHopError& err) {
            fail(err.what());
        }
    }
}

void AclControl::check(const std::string& name, const AclDef& def) const {
    check_name(name);
    if (def.entries.size() > max_entries_)
        throw AclError("ACL " + name + ": " + std::to_string(def.entries.size()) +
                       " entries exceed tables.max_acl_entries " + std::to_string(max_entries_));
    if (def.default_action == AclAction::redirect)
        throw AclError("ACL " + name + ": the default is permit, deny or reject");
    for (size_t i = 0; i < def.entries.size(); ++i) {
        try {
            check_entry(def.entries[i], i);
        } catch (const AclError& e) {
            throw AclError("ACL " + name + ": " + e.what());
        }
    }
}

std::string AclControl::bound_text(const std::vector<std::pair<uint16_t, AclDirection>>& where) const {
    std::string s;
    for (const auto& [port, dir] : where)
        s += (s.empty() ? "" : ", ") + ctl_.port_name(port) + " " + direction_name(dir);
    return s;
}

std::vector<RetiredCount> AclControl::set(const std::string& name, const AclDef& def) {
    const auto lock = ctl_.lock();
    check(name, def);
    if (table_.has(name)) {
        bool redirect = false;
        for (const AclEntry& e : def.entries) redirect |= e.action == AclAction::redirect;
        for (const auto& [port, dir] : table_.bindings(name))
            if (redirect && dir == AclDirection::out)
                throw AclError("ACL " + name + ": bound out on " + ctl_.port_name(port) +
                               ", where the route is already chosen: redirect acts only in an ACL bound in");
    }
    return table_.set(name, def);
}

void AclControl::remove(const std::string& name) {
    const auto lock = ctl_.lock();
    if (!table_.has(name)) throw AclError("no ACL named '" + name + "'");
    const auto where = table_.bindings(name);
    if (!where.empty()) throw AclError("ACL " + name + " is bound (" + bound_text(where) + "): unbind it first");
    table_.remove(name);
}

void AclControl::bind(const std::string& port, AclDirection dir, const std::string& name) {
    const auto lock = ctl_.lock();
    const uint16_t index = uint16_t(ctl_.port_index(port));
    if (!name.empty()) {
        const AclClassifier* acl = table_.compiled(name);
        if (acl == nullptr) throw AclError("no ACL named '" + name + "'");
        if (dir == AclDirection::out && acl->has_redirect())
            throw AclError("ACL " + name + " redirects, which acts only before the route lookup: bind it in, not out");
    }
    table_.bind(index, dir, name);
}

std::vector<std::string> AclControl::names() {
    const auto lock = ctl_.lock();
    return table_.names();
}

std::vector<AclSummary> AclControl::summaries() {
    const auto lock = ctl_.lock();
    return table_.summaries();
}

AclView AclControl::view(const std::string& name) {
    const auto lock = ctl_.lock();
    if (!table_.has(name)) throw AclError("no ACL named '" + name + "'");
    return table_.view(name);
}

std::string AclControl::bound(const std::string& port, AclDirection dir) {
    const auto lock = ctl_.lock();
    return table_.bound(uint16_t(ctl_.port_index(port)), dir);
}

}  // namespace appliance
