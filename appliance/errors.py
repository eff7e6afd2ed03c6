"""The appliance's exception classes, one tree for native and Python errors.

The data plane's C++ errors arrive as these same classes (the binding maps
them), so callers catch `RouteError` whether it came from a prefix parsed in
Python, a table in C++ or, later, a server's reply.
"""
from appliance._native import (
    AclError,
    AddressError,
    ApplianceError,
    CaptureError,
    EalError,
    NeighborError,
    NextHopError,
    PortError,
    ResourceError,
    RouteError,
    RuleError,
    StateError,
    TableFullError,
)


class ConfigError(ApplianceError):
    """A configuration or description that does not validate."""


class StorageError(ApplianceError):
    """The state file cannot be written (disk full, read-only): the change was not made."""


class BenchError(ApplianceError):
    """A benchmark cannot run: no TRex client or server, ports that do not fit, bad sizes."""


class DeployError(ApplianceError):
    """A deploy cannot start: the artifact does not build, Ansible is not installed."""


__all__ = [
    "AclError",
    "BenchError",
    "DeployError",
    "AddressError",
    "ApplianceError",
    "CaptureError",
    "ConfigError",
    "EalError",
    "NeighborError",
    "NextHopError",
    "PortError",
    "ResourceError",
    "RouteError",
    "RuleError",
    "StateError",
    "StorageError",
    "TableFullError",
]
