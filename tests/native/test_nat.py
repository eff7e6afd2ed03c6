"""NAT44 on ring ports, every translated header checked against a model: port a is the
inside (10.0.0.0/8), port c the outside (198.51.100.0/24), masquerading to PUBLIC, with
a port forward PUBLIC:8080 -> SERVER:80. Random TCP, UDP and echo flows go out; their
replies, ICMP errors about them (RFC 5508) and forwarded connections come back; each
packet's addresses, ports and checksums (IP, TCP/UDP with the pseudo-header, ICMP, and
the quoted packet's) are what the model says."""
import random

import pytest
from scapy.layers.inet import ICMP, IP, TCP, UDP, IPerror, UDPerror
from scapy.layers.l2 import Ether

from appliance import Dataplane, DataplaneConfig, PortConfig, TableSizes
from appliance.dataplane import ConntrackSettings
from tests.native.conftest import EAL, FAST_TIMERS, HOST_MAC, NEXTHOP, PORTS, ROUTER_MAC, checked, forward

PUBLIC, SERVER, REMOTE = "198.51.100.1", "10.0.0.9", "198.51.100.7"
LO, HI = 20000, 20999  # the range ports are taken from when the inside one is in use
MASQUERADE = {"c": {"source": "masquerade", "addresses": [PUBLIC], "ports": [LO, HI]}}
FORWARD = {"iface": "c", "proto": "tcp", "public_addr": PUBLIC, "public_port": 8080,
           "to_addr": SERVER, "to_port": 80}


def open_nat_router(max_sessions: int = 4096, mtus: dict | None = None) -> Dataplane:
    dp = Dataplane(DataplaneConfig(
        ports=[PortConfig(name, "ring", mac=ROUTER_MAC[name], mtu=(mtus or {}).get(name))
               for name in PORTS], eal=EAL,
        slowpath=FAST_TIMERS, conntrack=ConntrackSettings(max_sessions=max_sessions),
        tables=TableSizes(max_routes=4096, tbl8_groups=256, max_nexthops=64, max_rules=1024)))
    for port in PORTS:
        dp.nexthop_set(NEXTHOP[port], port, HOST_MAC[port], ROUTER_MAC[port])
    dp.route_add("10.0.0.0/8", NEXTHOP["a"])
    dp.address_add("c", f"{PUBLIC}/32")  # the masquerade's (what the router answers itself)
    dp.route_add("198.51.100.0/24", NEXTHOP["c"])
    dp.conntrack_set_stateful("c", True)
    dp.nat_set(MASQUERADE, [FORWARD])
    dp.start()
    dp.quiesce()  # (the address's ARP announcement out, before the mbuf baseline)
    for port in PORTS:
        dp.drain(port)
    return dp


@pytest.fixture
def nat():
    yield from checked(open_nat_router())


def inside(payload, src, dst=REMOTE) -> Ether:
    return Ether(src=HOST_MAC["a"], dst=ROUTER_MAC["a"]) / IP(src=src, dst=dst) / payload


def outside(payload, dst=PUBLIC, src=REMOTE) -> Ether:
    return Ether(src=HOST_MAC["c"], dst=ROUTER_MAC["c"]) / IP(src=src, dst=dst) / payload


def one(dp: Dataplane, frame: Ether, port: str, to: str) -> Ether | None:
    got = [f for f in forward(dp, [frame], port=port)[to] if IP in f]  # (not the router's ARP)
    assert len(got) <= 1
    return got[0] if got else None


def checksums_right(frame: Ether) -> bool:
    """Every checksum of the frame (the quoted packet's too) as scapy computes it afresh."""
    again = Ether(bytes(frame))
    # (A quoted TCP or UDP header is cut short: its checksum cannot be summed; the tests
    # compare it with the one the inside host sent.)
    for layer in (IP, TCP, UDP, ICMP, IPerror):
        found = again.getlayer(layer)
        if found is not None and not (layer is UDP and found.chksum == 0):
            found.chksum = None
    return bytes(Ether(bytes(again))) == bytes(frame)


class Model:
    """What the NAT should do: one mapping per inside address:port and protocol
    (endpoint-independent), keeping the port when no other holds it, else one of LO..HI."""

    def __init__(self):
        self.mapping: dict[tuple, int] = {}  # (proto, inside, port) -> public port
        self.used: dict[tuple, tuple] = {}   # (proto, public port) -> (inside, port)

    def expect(self, proto: str, src: str, sport: int) -> int | None:
        """The public port, or None when the model leaves it to the NAT (the inside one was taken)."""
        return self.mapping.get((proto, src, sport)) or (sport if (proto, sport) not in self.used else None)

    def saw(self, proto: str, src: str, sport: int, public: int) -> None:
        key = (proto, src, sport)
        assert self.mapping.setdefault(key, public) == public, f"{key}: not endpoint-independent"
        assert self.used.setdefault((proto, public), (src, sport)) == (src, sport), \
            f"{proto} port {public} given to two inside endpoints"
        assert public == sport or LO <= public <= HI


def test_random_flows_their_replies_and_errors_match_the_model(nat):
    rnd = random.Random(4787)
    model = Model()
    hosts = [f"10.0.0.{i}" for i in range(2, 8)]
    remotes = [f"198.51.100.{i}" for i in range(20, 24)]
    for n in range(240):
        proto = rnd.choice(["tcp", "udp", "icmp"])
        src, dst = rnd.choice(hosts), rnd.choice(remotes)
        sport, dport = rnd.choice([5000, 5001, 40000 + n % 7]), rnd.choice([53, 80, 443])
        l4 = {"tcp": TCP(sport=sport, dport=dport, flags="S", seq=n),
              "udp": UDP(sport=sport, dport=dport) / b"query",
              "icmp": ICMP(type=8, id=sport, seq=n) / b"ping"}[proto]
        expected = model.expect(proto, src, sport)
        original = inside(l4, src, dst)
        sent = one(nat, original, "a", "c")
        assert sent is not None, f"flow {n} did not leave"
        assert sent[IP].src == PUBLIC and sent[IP].dst == dst and checksums_right(sent), sent.show(dump=True)
        public = sent[ICMP].id if proto == "icmp" else sent[proto.upper() == "TCP" and TCP or UDP].sport
        if expected is not None:
            assert public == expected, (n, proto, src, sport, public)
        model.saw(proto, src, sport, public)
        # The reply finds the inside host again.
        reply = {"tcp": TCP(sport=dport, dport=public, flags="SA", ack=n + 1),
                 "udp": UDP(sport=dport, dport=public) / b"answer",
                 "icmp": ICMP(type=0, id=public, seq=n) / b"ping"}[proto]
        back = one(nat, outside(reply, src=dst), "c", "a")
        assert back is not None, f"reply {n} refused"
        assert (back[IP].src, back[IP].dst) == (dst, src) and checksums_right(back)
        assert (back[ICMP].id if proto == "icmp" else back[TCP if proto == "tcp" else UDP].dport) == sport
        # An ICMP error about the translated packet (a router on the way) is translated back.
        if proto != "icmp" and n % 3 == 0:
            error = outside(ICMP(type=11, code=0) / bytes(sent[IP])[:28], src="198.51.100.254")
            got = one(nat, error, "c", "a")
            assert got is not None and got[IP].dst == src and got[IP].src == "198.51.100.254"
            quoted = got[IPerror]
            assert (quoted.src, quoted.dst) == (src, dst) and checksums_right(got), got.show(dump=True)
            # The quoted transport header is the inside host's, checksum and all.
            assert bytes(quoted.payload)[:8] == bytes(original[IP].payload)[:8]
            assert quoted.ttl == original[IP].ttl - 1


def test_a_port_forward_serves_the_outside_and_the_inside_by_the_public_address(nat):
    syn = one(nat, outside(TCP(sport=33000, dport=8080, flags="S")), "c", "a")
    assert (syn[IP].src, syn[IP].dst, syn[TCP].sport, syn[TCP].dport) == (REMOTE, SERVER, 33000, 80)
    assert checksums_right(syn)
    answer = one(nat, inside(TCP(sport=80, dport=33000, flags="SA"), SERVER, REMOTE), "a", "c")
    assert (answer[IP].src, answer[TCP].sport, answer[IP].dst) == (PUBLIC, 8080, REMOTE)
    assert checksums_right(answer)
    # Hairpin (RFC 4787 REQ-9): an inside host by the public address; the server sees
    # the host's public mapping and answers through the router.
    there = one(nat, inside(TCP(sport=41000, dport=8080, flags="S"), "10.0.0.2", PUBLIC), "a", "a")
    assert there is not None and (there[IP].dst, there[TCP].dport) == (SERVER, 80)
    assert (there[IP].src, there[TCP].sport) == (PUBLIC, 41000) and checksums_right(there)
    back = one(nat, inside(TCP(sport=80, dport=41000, flags="SA"), SERVER, PUBLIC), "a", "a")
    assert back is not None and (back[IP].src, back[TCP].sport) == (PUBLIC, 8080)
    assert (back[IP].dst, back[TCP].dport) == ("10.0.0.2", 41000) and checksums_right(back)
    # Unsolicited: another port of the public address is the router's own, not forwarded.
    assert one(nat, outside(TCP(sport=33000, dport=8081, flags="S")), "c", "a") is None


def test_a_public_address_out_of_ports_drops_new_flows_and_keeps_old_ones(nat):
    nat.nat_set({"c": {**MASQUERADE["c"], "ports": [LO, LO + 1]}}, [])
    # 10.0.0.2 keeps its port 7000; two others that want 7000 take the range's two.
    for src in ("10.0.0.2", "10.0.0.3", "10.0.0.4"):
        assert one(nat, inside(UDP(sport=7000, dport=53), src), "a", "c") is not None
    assert one(nat, inside(UDP(sport=7000, dport=53), "10.0.0.5"), "a", "c") is None
    assert nat.stats()["drops"]["nat_no_port"] == 1
    assert one(nat, inside(UDP(sport=7000, dport=53), "10.0.0.3"), "a", "c") is not None  # its mapping
    use = {p["address"]: p for p in nat.nat_stats()["ports"]}
    assert use[PUBLIC]["udp"] == 3
    assert nat.conntrack_flush() == 3
    assert one(nat, inside(UDP(sport=7000, dport=53), "10.0.0.5"), "a", "c") is not None  # freed


def test_too_big_with_df_is_answered_about_the_packet_as_its_sender_sent_it():
    """PMTUD through NAT: the slow path's "fragmentation needed" quotes the packet as it
    came in, both ways: the inside host's own, and the outside's to the public address."""
    dp = open_nat_router(mtus={"a": 1000, "c": 1000})
    try:
        small = one(dp, inside(UDP(sport=6000, dport=53) / b"q", "10.0.0.2"), "a", "c")
        big = inside(UDP(sport=6000, dport=53) / (b"x" * 1200), "10.0.0.2")
        big[IP].flags = "DF"
        got = forward(dp, [big], port="a")
        assert not got["c"], "a packet over the MTU left"
        [error] = got["a"]
        assert (error[ICMP].type, error[ICMP].code, error[IP].dst) == (3, 4, "10.0.0.2")
        assert (error[IPerror].src, error[UDPerror].sport) == ("10.0.0.2", 6000)
        reply = outside(UDP(sport=53, dport=small[UDP].sport) / (b"y" * 1200), src=REMOTE)
        reply[IP].flags = "DF"
        got = forward(dp, [reply], port="c")
        assert not got["a"], "a packet over the MTU left"
        [error] = got["c"]
        assert (error[ICMP].type, error[ICMP].code, error[IP].dst) == (3, 4, REMOTE)
        assert (error[IPerror].dst, error[UDPerror].dport) == (PUBLIC, small[UDP].sport)
    finally:
        dp.close()
