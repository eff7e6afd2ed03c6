"""The benchmark's frames, built with struct for speed, are the frames scapy builds."""
import ipaddress

import pytest
from scapy.layers.inet import IP, UDP
from scapy.layers.l2 import Ether
from scapy.utils import rdpcap

from appliance.bench import frames, traffic

ROUTES = traffic.make_internet_routes(500)


def scapy_rebuilt(raw: bytes) -> bytes:
    """The same frame with its lengths and checksums left for scapy to compute."""
    pkt = Ether(raw)
    for layer, fields in ((IP, ("len", "chksum")), (UDP, ("len", "chksum"))):
        for f in fields:
            delattr(pkt[layer], f)
    return bytes(pkt)


@pytest.mark.parametrize("size", [64, 128, 1518, "imix"])
def test_each_frame_is_what_scapy_builds_with_the_size_asked(size):
    lens = frames.sequence(size)
    built = list(traffic.frame_bytes(ROUTES, 300, traffic.ROUTER_MAC, frame_lens=lens))
    for i, raw in enumerate(built):
        assert len(raw) == lens[i % len(lens)] - 4
        assert raw == scapy_rebuilt(raw), f"frame {i}: a length or checksum differs from scapy's"
        pkt = Ether(raw)
        assert pkt.dst == traffic.ROUTER_MAC and pkt[IP].ttl == 64
        assert any(ipaddress.ip_address(pkt[IP].dst) in net for net in ROUTES)


def test_frames_are_distinct_flows_and_the_pcap_holds_them_in_order(tmp_path):
    built = list(traffic.frame_bytes(ROUTES, 2000, traffic.ROUTER_MAC))
    assert len({(Ether(b)[IP].src, Ether(b)[UDP].sport) for b in built}) == 2000
    pcap = traffic.write_pcap(tmp_path / "t.pcap", built)
    assert [bytes(p) for p in rdpcap(str(pcap))] == built
    assert [bytes(p) for p in traffic.make_frames(ROUTES, 2000, traffic.ROUTER_MAC)] == built
