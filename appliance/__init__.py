"""appliance: a DPDK packet-forwarding appliance driven from Python."""
