// Typed errors of the native core. bindings.cpp maps each class to a Python
// exception of the same name in appliance.errors, in one place.
#pragma once

#include <stdexcept>
#include <string>

namespace appliance {

struct ApplianceError : std::runtime_error {
    using std::runtime_error::runtime_error;
};
struct EalError : ApplianceError { using ApplianceError::ApplianceError; };
struct PortError : ApplianceError { using ApplianceError::ApplianceError; };
struct ResourceError : ApplianceError { using ApplianceError::ApplianceError; };
struct RouteError : ApplianceError { using ApplianceError::ApplianceError; };
struct NextHopError : ApplianceError { using ApplianceError::ApplianceError; };
struct RuleError : ApplianceError { using ApplianceError::ApplianceError; };
struct TableFullError : ApplianceError { using ApplianceError::ApplianceError; };
struct StateError : ApplianceError { using ApplianceError::ApplianceError; };
struct AddressError : ApplianceError { using ApplianceError::ApplianceError; };
struct NeighborError : ApplianceError { using ApplianceError::ApplianceError; };
struct AclError : ApplianceError { using ApplianceError::ApplianceError; };
struct CaptureError : ApplianceError { using ApplianceError::ApplianceError; };

// The text of a DPDK error code (negative errno or rte_errno).
std::string dpdk_strerror(int code);

}  // namespace appliance
