"""Prefix text: canonical strings pass untouched, anything else is parsed or refused."""
import ipaddress

import pytest

from appliance.dataplane import canonical_prefixes
from appliance.errors import RouteError


def test_canonical_and_other_forms():
    assert canonical_prefixes(["10.0.0.0/8", "0.0.0.0/0", "255.255.255.255/32",
                               ipaddress.IPv4Network("192.0.2.0/24"), "10.1.2.3"]) == [
        "10.0.0.0/8", "0.0.0.0/0", "255.255.255.255/32", "192.0.2.0/24", "10.1.2.3/32"]
    # Host bits in canonical-looking text are the data plane's to refuse
    # (tests/native/test_misuse.py), with the same RouteError.


@pytest.mark.parametrize("bad", ["010.0.0.0/8", "10.0.0.0/08", "10.3.0.0/016", "2001:db8::/032",
                                 "10.0.0.0/33", "256.0.0.0/8", "10.0.0.0 /8",
                                 "fe80::1/10", "2001:db8::/129", "2001:db8:::/32", 5])
def test_invalid_text_is_refused(bad):
    with pytest.raises(RouteError):
        canonical_prefixes([bad])


def test_ipv6_prefixes_come_out_as_the_data_plane_prints_them():
    assert canonical_prefixes(["2001:0db8:0000::/32", "2001:db8:0:0:1::/80", "::/0",
                               ipaddress.IPv6Network("fd00::/8")]) == [
        "2001:db8::/32", "2001:db8:0:0:1::/80", "::/0", "fd00::/8"]
