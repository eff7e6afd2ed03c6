// Binding of the ACL calls. Python (appliance/acl.py) checks entries and
// hands them over as AclEntry objects whose prefixes are text; reading an
// ACL back gives plain dicts in the same terms.
#include <arpa/inet.h>

#include <pybind11/stl.h>

#include "core/bind.h"

namespace py = pybind11;

namespace appliance {

namespace {

// "192.0.2.0/24" or "2001:db8::/32": the address (host bits must be zero) and length.
std::pair<IpAddr, uint8_t> acl_prefix(const std::string& text) {
    const auto slash = text.find('/');
    const std::string address = text.substr(0, slash);
    const bool v6 = address.find(':') != std::string::npos;
    const unsigned bits = v6 ? 128 : 32;
    unsigned length = bits;
    if (slash != std::string::npos) {
        const std::string digits = text.substr(slash + 1);
        if (digits.empty() || digits.size() > 3 || digits.find_first_not_of("0123456789") != std::string::npos ||
            (length = unsigned(std::stoul(digits))) > bits)
            throw AclError("prefix '" + text + "': bad length");
    }
    IpAddr a;
    if (v6) {
        Ipv6Address b{};
        if (inet_pton(AF_INET6, address.c_str(), b.data()) != 1) throw AclError("prefix '" + text + "': not an address");
        a = IpAddr::v6(b);
    } else {
        in_addr b{};
        if (inet_pton(AF_INET, address.c_str(), &b) != 1) throw AclError("prefix '" + text + "': not an address");
        a = IpAddr::v4(ntohl(b.s_addr));
    }
    const unsigned offset = v6 ? 0 : 96;  // IPv4 sits in the last 32 bits
    if (mask6(a.b, uint8_t(offset + length)) != a.b) throw AclError("prefix '" + text + "': host bits set");
    return {a, uint8_t(length)};
}

std::string prefix_text(const IpAddr& a, uint8_t length) {
    return format_ip(a) + "/" + std::to_string(length);
}

AclAction action_of(const std::string& text) {
    for (AclAction a : {AclAction::permit, AclAction::deny, AclAction::reject, AclAction::redirect})
        if (text == action_name(a)) return a;
    throw AclError("action '" + text + "': permit, deny, reject or redirect");
}

AclDirection direction_of(const std::string& text) {
    if (text == "in") return AclDirection::in;
    if (text == "out") return AclDirection::out;
    throw AclError("direction '" + text + "': in or out");
}

py::object range_or_none(uint16_t lo, uint16_t hi) {
    if (lo == 0 && hi == 65535) return py::none();
    return py::make_tuple(lo, hi);
}

py::dict entry_dict(const AclEntry& e) {
    py::dict d;
    d["action"] = action_name(e.action);
    d["family"] = e.family;
    d["src"] = e.src_len != 0 ? py::cast(prefix_text(e.src, e.src_len)) : py::none();
    d["dst"] = e.dst_len != 0 ? py::cast(prefix_text(e.dst, e.dst_len)) : py::none();
    d["proto"] = e.proto >= 0 ? py::cast(e.proto) : py::none();
    d["src_port"] = range_or_none(e.src_port_lo, e.src_port_hi);
    d["dst_port"] = range_or_none(e.dst_port_lo, e.dst_port_hi);
    d["icmp_type"] = e.icmp_type >= 0 ? py::cast(e.icmp_type) : py::none();
    d["icmp_code"] = e.icmp_code >= 0 ? py::cast(e.icmp_code) : py::none();
    d["tcp_flags"] = e.tcp_mask != 0 ? py::object(py::make_tuple(e.tcp_flags, e.tcp_mask)) : py::none();
    d["dscp"] = e.dscp >= 0 ? py::cast(e.dscp) : py::none();
    d["fragment"] = e.fragment >= 0 ? py::cast(e.fragment == 1) : py::none();
    d["nexthop"] = e.action == AclAction::redirect ? py::cast(e.nexthop) : py::none();
    return d;
}

py::dict count_dict(const AclCount& c) {
    py::dict d;
    d["packets"] = c.packets;
    d["bytes"] = c.bytes;
    return d;
}

}  // namespace

void bind_acl(py::module_& m, DataplaneClass& dataplane) {
    py::class_<AclEntry>(m, "AclEntry")
        .def(py::init<>())
        .def_readwrite("family", &AclEntry::family)
        .def_property("src", nullptr, [](AclEntry& e, const std::string& t) { std::tie(e.src, e.src_len) = acl_prefix(t); })
        .def_property("dst", nullptr, [](AclEntry& e, const std::string& t) { std::tie(e.dst, e.dst_len) = acl_prefix(t); })
        .def_readwrite("proto", &AclEntry::proto)
        .def_readwrite("src_port_lo", &AclEntry::src_port_lo)
        .def_readwrite("src_port_hi", &AclEntry::src_port_hi)
        .def_readwrite("dst_port_lo", &AclEntry::dst_port_lo)
        .def_readwrite("dst_port_hi", &AclEntry::dst_port_hi)
        .def_readwrite("icmp_type", &AclEntry::icmp_type)
        .def_readwrite("icmp_code", &AclEntry::icmp_code)
        .def_readwrite("tcp_flags", &AclEntry::tcp_flags)
        .def_readwrite("tcp_mask", &AclEntry::tcp_mask)
        .def_readwrite("dscp", &AclEntry::dscp)
        .def_readwrite("fragment", &AclEntry::fragment)
        .def_property("action", [](const AclEntry& e) { return std::string(action_name(e.action)); },
                      [](AclEntry& e, const std::string& t) { e.action = action_of(t); })
        .def_readwrite("nexthop", &AclEntry::nexthop)
        .def("to_dict", &entry_dict);

    dataplane
        // Replaces the ACL whole (or creates it); returns the counts of the
        // entries the change took out of service (entry -1: the default).
        .def("acl_set", [](Dataplane& d, const std::string& name, const std::vector<AclEntry>& entries,
                           const std::string& default_action) {
            AclDef def{entries, action_of(default_action)};
            std::vector<RetiredCount> retired;
            {
                py::gil_scoped_release release;
                retired = d.controls().acls.set(name, def);
            }
            py::list out;
            for (const RetiredCount& r : retired) {
                py::dict e = count_dict(r.count);
                e["entry"] = r.entry;
                out.append(e);
            }
            return out;
        }, py::arg("name"), py::arg("entries"), py::arg("default"))
        .def("acl_delete", call(&Controls::acls, &AclControl::remove), py::arg("name"))
        .def("acl_bind", [](Dataplane& d, const std::string& port, const std::string& dir, const std::string& name) {
            d.controls().acls.bind(port, direction_of(dir), name);
        }, py::arg("port"), py::arg("direction"), py::arg("name"))
        .def("acl_bound", [](Dataplane& d, const std::string& port, const std::string& dir) {
            return d.controls().acls.bound(port, direction_of(dir));
        }, py::arg("port"), py::arg("direction"))
        .def("acl_names", call(&Controls::acls, &AclControl::names))
        .def("acl_summaries", [](Dataplane& d) {
            py::dict out;
            for (const AclSummary& s : d.controls().acls.summaries()) {
                py::dict one;
                one["entries"] = s.entries;
                for (AclAction a : {AclAction::permit, AclAction::deny, AclAction::reject, AclAction::redirect})
                    one[action_name(a)] = count_dict(s.by_action[size_t(a)]);
                out[py::str(s.name)] = one;
            }
            return out;
        })
        .def("acl_show", [](Dataplane& d, const std::string& name) {
            const AclView v = d.controls().acls.view(name);
            py::dict out;
            out["name"] = name;
            out["default"] = action_name(v.def.default_action);
            py::list entries;
            for (size_t i = 0; i < v.def.entries.size(); ++i) {
                py::dict e = entry_dict(v.def.entries[i]);
                e["packets"] = v.counts[i + 1].packets;
                e["bytes"] = v.counts[i + 1].bytes;
                entries.append(e);
            }
            out["entries"] = entries;
            out["default_count"] = count_dict(v.counts[0]);
            out["memory"] = v.memory;
            py::list bound;
            for (const auto& [port, dir] : v.bound)
                bound.append(py::make_tuple(d.port_name(port), dir == AclDirection::in ? "in" : "out"));
            out["bound"] = bound;
            return out;
        }, py::arg("name"));
}

}  // namespace appliance
