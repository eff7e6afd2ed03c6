"""appliance: a DPDK packet-forwarding appliance driven from Python.

    from appliance import Dataplane, DataplaneConfig, PortConfig

The names below load on first use: a CLI command that only talks to the API
starts without the config's models, pyroute2 or the native module.
"""
from importlib import import_module

from appliance.errors import *  # noqa: F403
from appliance.errors import __all__ as _errors

_LAZY = {"Client": "appliance.api.client", "Config": "appliance.config",
         "load_config": "appliance.config", "Dataplane": "appliance.dataplane",
         "DataplaneConfig": "appliance.dataplane", "PortConfig": "appliance.dataplane",
         "SlowPathSettings": "appliance.dataplane", "TableSizes": "appliance.dataplane",
         "VlanConfig": "appliance.dataplane", "RaSettings": "appliance.dataplane", "VrrpSettings": "appliance.dataplane",
         "EalOptions": "appliance.eal"}


__all__ = [*_LAZY, *_errors]


def _version() -> str:
    from importlib import metadata  # 30 ms: only when asked
    try:  # the installed wheel's (an upgrade or a rollback shows here)
        return metadata.version("appliance")
    except metadata.PackageNotFoundError:  # a source tree on sys.path
        return "0.1.0"


def __getattr__(name: str):
    if name in _LAZY:
        return getattr(import_module(_LAZY[name]), name)
    if name == "__version__":
        return _version()
    raise AttributeError(f"module 'appliance' has no attribute {name!r}")
