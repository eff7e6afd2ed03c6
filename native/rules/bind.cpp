// Binding of the exact-match rule calls: Python gives addresses as text and
// ports in host order; the tables key on network order.
#include <arpa/inet.h>

#include <pybind11/stl.h>

#include "core/bind.h"

namespace py = pybind11;

namespace appliance {

namespace {

uint32_t parse_ipv4_be(const std::string& text, const char* what) {
    in_addr a{};
    if (inet_pton(AF_INET, text.c_str(), &a) != 1)
        throw RuleError(std::string(what) + " '" + text + "' is not an IPv4 address");
    return a.s_addr;
}

void check_numbers(unsigned proto, unsigned sport, unsigned dport) {
    if (proto > 255) throw RuleError("protocol " + std::to_string(proto) + " out of range 0..255");
    if (sport > 65535 || dport > 65535) throw RuleError("L4 ports must be 0..65535");
}

FlowKey make_key(unsigned proto, const std::string& src, unsigned sport, const std::string& dst,
                 unsigned dport) {
    check_numbers(proto, sport, dport);
    return FlowKey{parse_ipv4_be(src, "source"), parse_ipv4_be(dst, "destination"),
                   htons(uint16_t(sport)), htons(uint16_t(dport)), uint8_t(proto), {0, 0, 0}};
}

FlowKey6 make_key6(unsigned proto, const std::string& src, unsigned sport, const std::string& dst,
                   unsigned dport) {
    check_numbers(proto, sport, dport);
    FlowKey6 k{};
    if (inet_pton(AF_INET6, src.c_str(), k.src_ip) != 1)
        throw RuleError("source '" + src + "' is not an IPv6 address");
    if (inet_pton(AF_INET6, dst.c_str(), k.dst_ip) != 1)
        throw RuleError("destination '" + dst + "' is not an IPv6 address");
    k.src_port = htons(uint16_t(sport));
    k.dst_port = htons(uint16_t(dport));
    k.proto = uint8_t(proto);
    return k;
}

bool is_v6(const std::string& src, const std::string& dst) {
    const bool s6 = src.find(':') != std::string::npos, d6 = dst.find(':') != std::string::npos;
    if (s6 != d6) throw RuleError("rule " + src + " -> " + dst + ": source and destination of different families");
    return s6;
}

std::string ip_text(int family, const void* address) {
    char buf[INET6_ADDRSTRLEN];
    inet_ntop(family, address, buf, sizeof buf);
    return buf;
}

template <class R>
py::dict rule_dict(const R& r, const std::string& src, const std::string& dst) {
    py::dict e;
    e["proto"] = r.key.proto;
    e["src"] = src;
    e["src_port"] = ntohs(r.key.src_port);
    e["dst"] = dst;
    e["dst_port"] = ntohs(r.key.dst_port);
    e["action"] = r.action == RuleAction::drop ? "drop" : "forward";
    e["nexthop"] = r.action == RuleAction::drop ? py::none() : py::cast(r.nexthop);
    return e;
}

}  // namespace

void bind_rules(py::module_&, DataplaneClass& dataplane) {
    dataplane
        .def("rule_add", [](Dataplane& d, unsigned proto, const std::string& src, unsigned sport,
                            const std::string& dst, unsigned dport, const std::string& action,
                            uint32_t nexthop) {
            RuleAction a = action == "forward" ? RuleAction::forward
                         : action == "drop"    ? RuleAction::drop
                                               : throw RuleError("action '" + action + "' must be 'forward' or 'drop'");
            if (is_v6(src, dst)) return d.controls().rules.add(Rule6{make_key6(proto, src, sport, dst, dport), a, nexthop});
            d.controls().rules.add(Rule{make_key(proto, src, sport, dst, dport), a, nexthop});
        }, py::arg("proto"), py::arg("src"), py::arg("src_port"), py::arg("dst"),
           py::arg("dst_port"), py::arg("action"), py::arg("nexthop") = 0)
        .def("rule_delete", [](Dataplane& d, unsigned proto, const std::string& src, unsigned sport,
                               const std::string& dst, unsigned dport) {
            if (is_v6(src, dst)) return d.controls().rules.remove(make_key6(proto, src, sport, dst, dport));
            d.controls().rules.remove(make_key(proto, src, sport, dst, dport));
        }, py::arg("proto"), py::arg("src"), py::arg("src_port"), py::arg("dst"), py::arg("dst_port"))
        .def("rules", [](Dataplane& d) {
            py::list out;
            for (const Rule& r : d.controls().rules.list4())
                out.append(rule_dict(r, ip_text(AF_INET, &r.key.src_ip), ip_text(AF_INET, &r.key.dst_ip)));
            for (const Rule6& r : d.controls().rules.list6())
                out.append(rule_dict(r, ip_text(AF_INET6, r.key.src_ip), ip_text(AF_INET6, r.key.dst_ip)));
            return out;
        })
        .def("rule_count", call(&Controls::rules, &RuleControl::count));
}

}  // namespace appliance
