// Binding of packet capture: start with a spec, read the copies, stop.
#include <rte_cycles.h>

#include <pybind11/stl.h>

#include "core/bind.h"

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
