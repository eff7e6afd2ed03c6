"""Names and paths the CLI, the client and the config share: a module of its own so a
client command starts without importing the config's models or the native module."""

DEFAULT_SOCKET = "/run/appliance/appliance.sock"

# Route protocols as iproute2 names them (/etc/iproute2/rt_protos), the ones routing
# daemons install with; a number names any other.
ROUTE_PROTOCOLS = {"boot": 3, "static": 4, "zebra": 11, "bird": 12, "dhcp": 16, "babel": 42,
                   "openr": 99, "bgp": 186, "isis": 187, "ospf": 188, "rip": 189, "eigrp": 192}
ROUTE_TABLES = {"main": 254, "default": 253}
