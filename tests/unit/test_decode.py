"""Every document goes through one bounded decoder: nothing a user writes escapes as a crash.

The hostile_configs fixtures are the cases a hostile review found (each once stopped,
wedged or silently misread the appliance); the hypothesis tests mutate a valid config.
"""
import time
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from appliance.config import load_config, parse_config
from appliance.decode import DecodeError, load_json, load_yaml
from appliance.errors import ConfigError

HOSTILE = Path(__file__).resolve().parents[1] / "fixtures" / "hostile_configs"
EXPECTED = {
    "latin-1.yaml": "line 8: not UTF-8 (byte 0xe9",
    "utf-16.yaml": "line 1: not UTF-8 (byte 0xff at offset 0)",
    "integer-5000-digits.yaml": "integer of 5000 digits is out of range",
    "nested-100k.yaml": "nested more than 32 levels deep",
    "alias-bomb.yaml": "YAML aliases (*a) are not accepted",
    "duplicate-routes-key.yaml": "line 8: duplicate key 'routes'",
    "duplicate-nested-key.yaml": "line 2: duplicate key 'name'",
    "yaml11-bool-on.yaml": "verify_checksum: Input should be a valid boolean (got 'on')",
    "yaml11-octal.yaml": "routes[0].nexthop: next hop 8 is not defined",  # 010 is ten, not eight
    "memory-10e15.yaml": "eal.memory_mb: Input should be less than or equal to 1048576",
    "multicast-nexthop-mac.yaml": "nexthops[0].mac: not a unicast MAC",
    "broadcast-src-mac.yaml": "nexthops[0].src_mac: not a unicast MAC",
    "zero-neighbor-mac.yaml": "neighbors[0].mac: not a unicast MAC",
    "value-100kb.yaml": "ports[0].device",
    "binary.yaml": "not UTF-8",
    "python-tag.yaml": "YAML tags (tag:yaml.org,2002:python/object/apply:os.system) are not accepted",
    "two-documents.yaml": "a second YAML document",
    "nexthop-id-bool.yaml": "nexthops[0].id: Input should be a valid integer (got True)",
    "token-file-missing.yaml": "api.token_file: /nonexistent/token: cannot read",
    "float-nan.yaml": "line 4 column 15: icmp.rate_limit: .nan is not a finite number",
    "float-inf-in-a-list.yaml": "line 4 column 22: eal.worker_lcores[1]: -.inf is not a finite number",
    "nul-character.yaml": "line 4 column 36: not valid YAML: character 0x0000 is not allowed",
    "prefix-length-leading-zero.yaml": "routes[0].prefix: prefix length '016' has a leading zero",
    "address-length-leading-zero.yaml": "ports[0].addresses: '192.0.2.1/024': prefix length '024' has a leading zero",
}


def test_every_fixture_has_its_expectation():
    assert sorted(p.name for p in HOSTILE.iterdir()) == sorted(EXPECTED)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_hostile_config_is_refused_quickly_naming_the_file_and_the_problem(name):
    path = HOSTILE / name
    t0 = time.monotonic()
    with pytest.raises(ConfigError) as e:
        load_config(path)
    message = str(e.value)
    assert time.monotonic() - t0 < 2.0
    assert message.startswith(str(path)), message
    assert EXPECTED[name] in message, message
    assert len(message) < 1000, "values are quoted shortened, not echoed back"


@pytest.mark.parametrize("text, value", [
    ("a: on", "on"), ("a: yes", "yes"), ("a: True", True), ("a: 0777", 777), ("a: 0o17", 15),
    ("a: 0x1F", 31), ("a: 1:30", "1:30"), ("a: 02:00:00:00:00:01", "02:00:00:00:00:01"),
    ("a: ~", None), ("a:", None), ("a: 1.5", 1.5), ("a: '12'", "12"), ("a: 1_000", "1_000"),
    ("a: 10.0.0.0/8", "10.0.0.0/8"), ("a: -3", -3),
])
def test_plain_scalars_read_as_yaml_1_2(text, value):
    assert load_yaml(text)["a"] == value


@pytest.mark.parametrize("text, message", [
    (b'{"a": 1, "a": 2}', "duplicate key 'a'"),
    (b"[" * 40 + b"]" * 40, "nested more than 32 levels"),
    (b"[" * 100_000 + b"]" * 100_000, "nested more than 32 levels"),
    (b'{"a": NaN}', "NaN is not a JSON number"),
    (b'{"a": ' + b"9" * 5000 + b"}", "not valid JSON"),
    (b'{"a": "\xff"}', "not UTF-8"),
    (b"{nope", "line 1 column 2: not valid JSON"),
])
def test_json_bounds(text, message):
    with pytest.raises(DecodeError, match=message):
        load_json(text, "body")


VALID = (HOSTILE.parent.parent.parent / "configs" / "demo.yaml").read_bytes()


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_a_mutated_config_is_a_config_error_or_a_config(data):
    """Byte flips, cuts and insertions anywhere: ConfigError or a valid config, nothing else."""
    doc = bytearray(VALID)
    for _ in range(data.draw(st.integers(1, 4))):
        at = data.draw(st.integers(0, len(doc)))
        what = data.draw(st.sampled_from(["flip", "cut", "insert"]))
        if what == "flip" and at < len(doc):
            doc[at] ^= data.draw(st.integers(1, 255))
        elif what == "cut":
            del doc[at:at + data.draw(st.integers(1, 40))]
        else:
            doc[at:at] = data.draw(st.sampled_from(
                [b"&a ", b"*a", b"!!str ", b"[", b"{", b": ", b"\n- ", b"\xff", b"1" * 30, b"on",
                 b"\n---\n", b"<<: *a\n", b"\t", b"\x00", b".nan", b"-.inf", b"1e999"]))
    try:
        parse_config(load_yaml(bytes(doc), "mutant.yaml"), "mutant.yaml", check_host=False)
    except ConfigError:
        pass


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=200))
def test_arbitrary_bytes_never_escape_as_anything_but_a_decode_error(data):
    for decode in (load_yaml, load_json):
        try:
            decode(data)
        except DecodeError:
            pass
