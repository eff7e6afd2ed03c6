"""FRR OSPF through the appliance's kernel interface: hellos to 224.0.0.5 and the DR's
224.0.0.6 reach ospfd on the appliance host through the punt path (link-local multicast
goes to the kernel interface), the adjacency forms with ospfd in h2's namespace, and the
route it learns is mirrored into the FIB (route_sync protocols: [ospf])."""
import pytest

from tests.e2e.conftest import wait_until
from tests.e2e.frr import Frr
from tests.e2e.lab import Lab

OSPF = """frr defaults traditional
hostname {name}
interface {iface}
 ip ospf hello-interval 1
 ip ospf dead-interval 4
router ospf
 ospf router-id {me}
 network 10.0.2.0/24 area 0
{extra}"""


@pytest.fixture
def ospf_lab(tmp_path):
    lab = Lab(tmp_path, kernel=True)
    lab.appliance.config["route_sync"] = {"table": "main", "protocols": ["ospf"]}
    lab.host(1, "ip", "addr", "add", "172.16.7.1/32", "dev", "lo", check=True)
    lab.start()
    ours = Frr(OSPF.format(name="appliance", iface=lab.kernel[1], me="10.0.2.1", extra=""),
               daemon="ospfd")
    theirs = Frr(OSPF.format(name="h2", iface="eth0", me="10.0.2.2",
                             extra=" network 172.16.7.1/32 area 0\n"),
                 netns=lab.ns[1], daemon="ospfd")
    try:
        ours.start()
        theirs.start()
        yield lab, ours, theirs
    finally:
        theirs.stop()
        ours.stop()
        lab.close()


def test_an_ospf_adjacency_forms_and_its_route_is_forwarded_by_the_appliance(ospf_lab):
    lab, ours, theirs = ospf_lab
    assert wait_until(lambda: "Full" in ours.vtysh("show ip ospf neighbor"), timeout=60), (
        ours.vtysh("show ip ospf neighbor"), theirs.vtysh("show ip ospf neighbor"))
    with lab.appliance.client() as c:
        assert wait_until(lambda: any(r["prefix"] == "172.16.7.1/32" for r in c.kernel_routes()),
                          timeout=30), ours.vtysh("show ip route")
        (route,) = [r for r in c.kernel_routes() if r["prefix"] == "172.16.7.1/32"]
        assert (route["gateway"], route["protocol"]) == ("10.0.2.2", 188)
        assert c.stats()["slowpath"]["kernel_in"] > 0
    assert lab.wait_ping(0, "172.16.7.1")
