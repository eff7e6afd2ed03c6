"""appliance: a DPDK packet-forwarding appliance driven from Python.

    from appliance import Dataplane, DataplaneConfig, PortConfig
"""
from appliance.api.client import Client
from appliance.config import Config, load_config
from appliance.dataplane import Dataplane, DataplaneConfig, PortConfig, SlowPathSettings, TableSizes
from appliance.eal import EalOptions
from appliance.errors import *  # noqa: F403
from appliance.errors import __all__ as _errors

__version__ = "0.1.0"
__all__ = ["Client", "Config", "load_config", "Dataplane", "DataplaneConfig", "EalOptions", "PortConfig", "SlowPathSettings", "TableSizes", *_errors]
