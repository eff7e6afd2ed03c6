// Binding of connection tracking: its spec and timeouts, the stateful
// interfaces, the sessions and counters.
#include <arpa/inet.h>
#include <netinet/in.h>

#include <map>

#include <pybind11/stl.h>

#include "core/bind.h"

namespace py = pybind11;

namespace appliance {

namespace {

std::string key_address(const uint8_t* a, bool v6) {
    char text[INET6_ADDRSTRLEN];
    inet_ntop(v6 ? AF_INET6 : AF_INET, a, text, sizeof text);
    return text;
}

py::dict tuple_of(const CtKey& k) {
    py::dict t;
    t["src"] = key_address(k.src, k.v6);
    t["dst"] = key_address(k.dst, k.v6);
    t["sport"] = ntohs(k.sport);
    t["dport"] = ntohs(k.dport);
    return t;
}

// Parses `address` (IPv4 or IPv6 text) into the key layout; false if it is not one.
std::string proto_name(uint8_t proto) {
    switch (proto) {
    case IPPROTO_TCP: return "tcp";
    case IPPROTO_UDP: return "udp";
    case IPPROTO_ICMP: return "icmp";
    case IPPROTO_ICMPV6: return "icmpv6";
    default: return std::to_string(proto);
    }
}

bool parse_address(const std::string& address, uint8_t out[16], bool* v6) {
    std::memset(out, 0, 16);
    *v6 = address.find(':') != std::string::npos;
    return inet_pton(*v6 ? AF_INET6 : AF_INET, address.c_str(), out) == 1;
}

}  // namespace

void bind_ct(py::module_& m, DataplaneClass& dataplane) {
    py::class_<CtTimeouts>(m, "CtTimeouts")
        .def(py::init<>())
#define APPLIANCE_CT_TIMEOUT(field) .def_readwrite(#field, &CtTimeouts::field)
        APPLIANCE_CT_TIMEOUT(tcp_syn_sent) APPLIANCE_CT_TIMEOUT(tcp_syn_recv)
        APPLIANCE_CT_TIMEOUT(tcp_established) APPLIANCE_CT_TIMEOUT(tcp_fin_wait)
        APPLIANCE_CT_TIMEOUT(tcp_last_ack) APPLIANCE_CT_TIMEOUT(tcp_time_wait)
        APPLIANCE_CT_TIMEOUT(tcp_close) APPLIANCE_CT_TIMEOUT(udp) APPLIANCE_CT_TIMEOUT(icmp)
        APPLIANCE_CT_TIMEOUT(other);
#undef APPLIANCE_CT_TIMEOUT

    py::class_<CtSpec>(m, "CtSpec")
        .def(py::init<>())
        .def_readwrite("max_sessions", &CtSpec::max_sessions)
        .def_readwrite("timeouts", &CtSpec::timeouts);

    using C = CtControl;
    dataplane
        .def("conntrack_set_stateful", call(&Controls::conntrack, &C::set_stateful),
             py::arg("interface"), py::arg("on"))
        .def("conntrack_stateful", call(&Controls::conntrack, &C::stateful))
        .def("conntrack_set_timeouts", call(&Controls::conntrack, &C::set_timeouts), py::arg("timeouts"))
        .def("conntrack_timeouts", call(&Controls::conntrack, &C::timeouts))
        .def("conntrack_flush", call(&Controls::conntrack, &C::flush), Release())
        .def("conntrack_list", [](Dataplane& d, int proto, const std::string& address) {
            uint8_t want[16];
            bool v6 = false;
            if (!address.empty() && !parse_address(address, want, &v6))
                throw StateError("'" + address + "' is not an IPv4 or IPv6 address");
            std::vector<CtInfo> found;
            {
                py::gil_scoped_release unlocked;
                found = d.controls().conntrack.list([&](const CtInfo& c) {
                    if (proto >= 0 && c.original.proto != proto) return false;
                    if (address.empty()) return true;
                    const CtKey& k = c.original;
                    return k.v6 == v6 && (std::memcmp(k.src, want, 16) == 0 || std::memcmp(k.dst, want, 16) == 0 ||
                                          std::memcmp(c.reply.src, want, 16) == 0 ||
                                          std::memcmp(c.reply.dst, want, 16) == 0);
                });
            }
            py::list out;
            for (const CtInfo& c : found) {
                py::dict e;
                e["proto"] = c.original.proto;
                e["family"] = c.original.v6 ? 6 : 4;
                e["vrf"] = d.vrf_name(c.original.vrf);
                e["state"] = kCtStateNames[unsigned(c.state)];
                e["translated"] = c.translated;
                e["original"] = tuple_of(c.original);
                e["reply"] = tuple_of(c.reply);
                e["age_s"] = double(c.age_ms) / 1000;
                e["idle_s"] = double(c.idle_ms) / 1000;
                e["timeout_s"] = c.timeout_s;
                out.append(e);
            }
            return out;
        }, py::arg("proto") = -1, py::arg("address") = "")
        .def("conntrack_stats", [](Dataplane& d) {
            const CtStats s = d.controls().conntrack.stats();
            std::map<std::string, std::map<std::string, uint64_t>> by_state;
            if (d.controls().conntrack.on()) {
                std::map<std::pair<uint8_t, CtState>, uint64_t> counts;
                {
                    py::gil_scoped_release unlocked;
                    d.controls().conntrack.list([&](const CtInfo& c) {
                        counts[{c.original.proto, c.state}]++;
                        return false;  // counted, not kept
                    });
                }
                for (const auto& [k, n] : counts)
                    by_state[proto_name(k.first)][kCtStateNames[unsigned(k.second)]] = n;
            }
            py::dict e;
            e["by_state"] = by_state;  // protocol -> state -> sessions
            e["enabled"] = d.controls().conntrack.on();
            e["sessions"] = s.sessions;
            e["expired"] = s.expired;
            e["capacity"] = s.capacity;
            return e;
        });
}

}  // namespace appliance
