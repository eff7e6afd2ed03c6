// Binding of packet capture (start with a spec, read the copies, stop) and of the per-packet trace.
#include <rte_cycles.h>

#include <pybind11/stl.h>

#include "core/bind.h"
#include "ct/ct_session.h"

namespace py = pybind11;

namespace appliance {

void bind_capture(py::module_& m, DataplaneClass& dataplane) {
    py::class_<CaptureSpec>(m, "CaptureSpec")
        .def(py::init<>())
        .def_readwrite("ifaces", &CaptureSpec::ifaces)
        .def_readwrite("reasons", &CaptureSpec::reasons)
        .def_readwrite("snaplen", &CaptureSpec::snaplen)
        .def_readwrite("count", &CaptureSpec::count)
        .def_readwrite("filter", &CaptureSpec::filter);
    m.attr("CAPTURE_IN") = int(kCaptureIn);
    m.attr("CAPTURE_OUT") = int(kCaptureOut);
    m.attr("CAPTURE_DROPS") = int(kCaptureDrops);
    m.attr("CAPTURE_SLOW_PATH") = int(kSlowPath);
    m.def("tsc_hz", [] { return rte_get_tsc_hz(); });
    m.def("tsc_now", [] { return rte_rdtsc(); });

    dataplane
        .def("capture_start", call(&Controls::capture, &CaptureControl::start), py::arg("spec"), Release())
        .def("capture_stop", call(&Controls::capture, &CaptureControl::stop), Release())
        // [(tsc, wire_len, iface, what, reason, worker, bytes)], oldest first
        .def("capture_read", [](Dataplane& d, unsigned max) {
            std::vector<CapturedPacket> got;
            {
                py::gil_scoped_release unlocked;
                got = d.controls().capture.read(max);
            }
            py::list out;
            for (const CapturedPacket& p : got)
                out.append(py::make_tuple(p.tsc, p.wire_len, p.iface, p.what, p.reason, p.worker,
                                          py::bytes(p.bytes)));
            return out;
        }, py::arg("max") = 256)
        .def("capture_stats", [](Dataplane& d) {
            const CaptureStats s = d.controls().capture.stats();
            py::dict out;
            out["copied"] = s.copied;
            out["filtered"] = s.filtered;
            out["lost"] = s.lost;
            out["done"] = d.controls().capture.done();
            return out;
        })
        .def_property_readonly("capturing", [](Dataplane& d) { return d.controls().capture.running(); });
}

}  // namespace appliance

namespace appliance {

void bind_trace(py::module_& m, DataplaneClass& dataplane) {
    py::class_<TraceSpec>(m, "TraceSpec")
        .def(py::init<>())
        .def_readwrite("ifaces", &TraceSpec::ifaces)
        .def_readwrite("count", &TraceSpec::count)
        .def_readwrite("match", &TraceSpec::match);
    m.attr("TRACE_SLOW_PATH") = int(kTraceSlowPath);
    m.attr("TRACE_NO_SESSION") = int(kTraceNoSession);
    py::list slow;
    for (const char* name : kTraceSlowNames) slow.append(name);
    m.attr("TRACE_SLOW_NAMES") = slow;
    py::list states;
    for (const char* name : kCtStateNames) states.append(name);
    m.attr("TRACE_CT_STATES") = states;

    dataplane
        .def("trace_start", call(&Controls::trace, &TraceControl::start), py::arg("spec"), Release())
        .def("trace_stop", call(&Controls::trace, &TraceControl::stop), Release())
        // {chosen, count, lost, running, packets: [(packet, tsc, worker, iface, queue, wire_len, head)],
        //  events: [(packet, tsc, worker, step, code, a, b, data)]}
        .def("trace_records", [](Dataplane& d) {
            std::shared_ptr<const Trace> t;
            std::vector<TracePacket> packets;
            std::vector<TraceEvent> events;
            {
                py::gil_scoped_release unlocked;
                t = d.controls().trace.last();
                packets = t->packets();
                events = t->events();
            }
            const TraceStatus s = t->status();
            py::dict out;
            out["chosen"] = s.chosen;
            out["count"] = s.count;
            out["lost"] = s.lost;
            out["running"] = d.controls().trace.running();
            py::list ps, es;
            for (const TracePacket& p : packets)
                ps.append(py::make_tuple(p.packet, p.tsc, p.worker, p.iface, p.queue, p.wire_len,
                                         py::bytes(reinterpret_cast<const char*>(p.head), p.head_len)));
            for (const TraceEvent& e : events)
                es.append(py::make_tuple(e.packet, e.tsc, e.worker, kTraceStepNames[unsigned(e.step)], e.code,
                                         e.a, e.b, py::bytes(reinterpret_cast<const char*>(e.data), sizeof e.data)));
            out["packets"] = ps;
            out["events"] = es;
            return out;
        })
        .def_property_readonly("tracing", [](Dataplane& d) { return d.controls().trace.running(); });
}

}  // namespace appliance
