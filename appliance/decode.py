"""Every document a user hands the appliance is decoded here, with bounds.

Config files (at start, on SIGHUP, `config validate`), `apply` bodies, API
bodies and the state file go through these two decoders, so none of them can
make the appliance run out of memory, recurse without end or raise anything
but DecodeError (a ConfigError naming where the problem is):

- UTF-8 only (a UTF-8 BOM is tolerated), at most MAX_BYTES;
- nesting at most MAX_DEPTH levels;
- YAML: aliases and explicit tags refused (an alias bomb expands in whatever
  walks it), one document, duplicate keys refused, YAML 1.2 core scalars
  (`on`, `0777`, `1:30` and `02:00:00:00:00:01` are strings, not a bool, an
  octal or a sexagesimal number);
- integers at most MAX_INT_DIGITS digits, floats finite (`.nan` and `.inf`
  are refused naming where they are; ranges are the schema's job).
"""
from __future__ import annotations

import json
import math
import re
import reprlib
from typing import Any

import yaml

from appliance.errors import ConfigError

MAX_BYTES = 256 << 20  # a 1M-route bulk add is about 40 MiB of JSON
MAX_DEPTH = 32
MAX_INT_DIGITS = 20
SHOWN_CHARS = 60  # of a value quoted back in an error


class DecodeError(ConfigError):
    """A document that is not one the appliance reads (encoding, syntax, bounds)."""


_REPR = reprlib.Repr()
_REPR.maxlevel, _REPR.maxdict, _REPR.maxlist, _REPR.maxtuple = 3, 6, 6, 6
_REPR.maxstring = _REPR.maxlong = _REPR.maxother = SHOWN_CHARS


def shorten(value: Any) -> str:
    """A value as errors quote it: repr() bounded in length, depth and items."""
    try:
        return _REPR.repr(value)
    except ValueError:  # an int too long to print
        return f"an integer of {value.bit_length()} bits"


def _text(data: bytes | str, source: str) -> str:
    if isinstance(data, str):
        data = data.encode("utf-8", "surrogatepass")
    if len(data) > MAX_BYTES:
        raise DecodeError(f"{source}: {len(data)} bytes is more than the {MAX_BYTES} accepted")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as e:
        line = data.count(b"\n", 0, e.start) + 1
        raise DecodeError(f"{source}: line {line}: not UTF-8 (byte {data[e.start]:#04x} at "
                          f"offset {e.start}); save the file as UTF-8") from None
    return text.removeprefix("\ufeff")


# -- JSON --

def _no_duplicates(source: str):
    def pairs(items: list[tuple[str, Any]]) -> dict:
        out = dict(items)
        if len(out) != len(items):
            seen: set = set()
            dup = next(k for k, _ in items if k in seen or seen.add(k))
            raise DecodeError(f"{source}: duplicate key {shorten(dup)}")
        return out
    return pairs


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


def load_json(data: bytes | str, source: str = "<json>") -> Any:
    """JSON with bounds; DecodeError names what is wrong."""
    text = _text(data, source)
    try:
        document = json.loads(text, object_pairs_hook=_no_duplicates(source),
                              parse_constant=_refuse_constant)
    except DecodeError:
        raise
    except json.JSONDecodeError as e:
        raise DecodeError(f"{source}: line {e.lineno} column {e.colno}: not valid JSON: "
                          f"{e.msg}") from None
    except RecursionError:  # the parser's own guard, near 1000 levels
        raise DecodeError(f"{source}: nested more than {MAX_DEPTH} levels deep") from None
    except ValueError as e:  # over 4300 digits, NaN
        raise DecodeError(f"{source}: not valid JSON: {shorten(str(e))}") from None
    if _depth(document) > MAX_DEPTH:
        raise DecodeError(f"{source}: nested more than {MAX_DEPTH} levels deep")
    return document


def _depth(document: Any) -> int:
    if not isinstance(document, (dict, list)):
        return 0
    deepest, stack = 0, [(document, 1)]
    while stack:
        value, depth = stack.pop()
        deepest = max(deepest, depth)
        for child in value.values() if isinstance(value, dict) else value:
            if isinstance(child, (dict, list)):
                stack.append((child, depth + 1))
    return deepest


# -- YAML --

class _Resolver(yaml.resolver.BaseResolver):
    """YAML 1.2 core schema: what a plain scalar means."""


for tag, pattern, first in [
    ("bool", r"^(?:true|True|TRUE|false|False|FALSE)$", "tTfF"),
    ("int", r"^(?:[-+]?[0-9]+|0o[0-7]+|0x[0-9a-fA-F]+)$", "-+0123456789"),
    ("float", r"^(?:[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?"
              r"|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$", "-+0123456789."),
    ("null", r"^(?:~|null|Null|NULL|)$", ["~", "n", "N", ""]),
]:
    _Resolver.add_implicit_resolver(f"tag:yaml.org,2002:{tag}", re.compile(pattern), list(first))


# First character -> the (tag, pattern) pairs that may match: PyYAML's own table, read
# directly (its resolve() costs a call chain per scalar: 1 s of a million-route config).
_IMPLICIT = _Resolver.yaml_implicit_resolvers


def _implicit_tag(value: str) -> str:
    for tag, pattern in _IMPLICIT.get(value[:1], ()):
        if pattern.match(value):
            return tag
    return "tag:yaml.org,2002:str"


def _parser(text: str):
    # libyaml's parser when PyYAML has it (several times faster on big configs)
    return yaml.CSafeLoader(text) if yaml.__with_libyaml__ else yaml.SafeLoader(text)


def _where(source: str, event) -> str:
    return f"{source}: line {event.start_mark.line + 1}"


def _path(stack: list[tuple[Any, Any]]) -> str:
    """Where the builder is, as config errors name it: `ports[1].mtu`."""
    path = ""
    for container, key in stack:
        if isinstance(container, list):
            path += f"[{len(container)}]"
        elif key is not _NO_KEY:
            path += f".{key}" if path else str(key)
    return path


def _scalar(tag: str, value: str, source: str, event, stack: list[tuple[Any, Any]]) -> Any:
    """A plain scalar's value; errors name the line, column and path."""
    if tag.endswith(":str"):
        return value
    if tag.endswith(":null"):
        return None
    if tag.endswith(":bool"):
        return value.lower() == "true"
    if tag.endswith(":int"):
        digits = value.lstrip("+-")
        if len(digits) > MAX_INT_DIGITS:
            raise DecodeError(f"{_scalar_where(source, event, stack)}: integer of {len(digits)} digits is out of range")
        base = 16 if digits.startswith("0x") else 8 if digits.startswith("0o") else 10
        return int(value.replace("0x", "").replace("0o", ""), base)
    # .inf, -.inf, .nan (Python spells them without the dot) and 1e999 are refused
    number = math.nan if value[-1].isalpha() else float(value)
    if not math.isfinite(number):
        raise DecodeError(f"{_scalar_where(source, event, stack)}: {value} is not a finite number")
    return number


def load_yaml(data: bytes | str, source: str = "<yaml>") -> Any:
    """One YAML document with bounds; DecodeError names the file and line."""
    text = _text(data, source)
    loader = _parser(text)
    try:
        return _build(loader, source)
    except yaml.reader.ReaderError as e:  # a character YAML does not allow (NUL, ...)
        line = text.count("\n", 0, e.position) + 1
        column = e.position - (text.rfind("\n", 0, e.position) + 1) + 1
        raise DecodeError(f"{source}: line {line} column {column}: not valid YAML: "
                          f"character {e.character:#06x} is not allowed") from None
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f" line {mark.line + 1} column {mark.column + 1}" if mark else ""
        problem = getattr(e, "problem", None) or str(e)
        # Newer libyaml's scanner refuses ~1000 levels while it looks ahead for a
        # key, before the builder sees the level MAX_DEPTH + 1: the same refusal.
        if "nesting depth" in problem:
            raise DecodeError(f"{source}:{where}: nested more than {MAX_DEPTH} levels deep") from None
        raise DecodeError(f"{source}:{where}: not valid YAML: {problem}") from None
    finally:
        loader.dispose()


def _scalar_where(source: str, event, stack: list[tuple[Any, Any]]) -> str:
    mark = event.start_mark
    path = _path(stack)
    return f"{source}: line {mark.line + 1} column {mark.column + 1}" + (f": {path}" if path else "")


def _build(loader, source: str) -> Any:
    """Events -> Python values, without recursion, refusing what we do not read."""
    stack: list[tuple[Any, Any]] = []  # (container, pending mapping key or _NO_KEY)
    document = None
    documents = 0
    while True:
        event = loader.get_event()
        if isinstance(event, yaml.StreamEndEvent):
            return document
        if isinstance(event, yaml.DocumentStartEvent):
            documents += 1
            if documents > 1:
                raise DecodeError(f"{_where(source, event)}: a second YAML document; give one")
            continue
        if isinstance(event, (yaml.StreamStartEvent, yaml.DocumentEndEvent)):
            continue
        if isinstance(event, yaml.AliasEvent):
            raise DecodeError(f"{_where(source, event)}: YAML aliases (*{event.anchor}) are not accepted; "
                              "write the value out")
        tag = getattr(event, "tag", None)
        if tag is not None and tag != "!":
            raise DecodeError(f"{_where(source, event)}: YAML tags ({tag}) are not accepted")
        if isinstance(event, (yaml.SequenceEndEvent, yaml.MappingEndEvent)):
            value, _ = stack.pop()
        elif isinstance(event, yaml.ScalarEvent):
            implicit = event.implicit[0] and tag is None
            value = _scalar(_implicit_tag(event.value) if implicit else "tag:yaml.org,2002:str",
                            event.value, source, event, stack)
        else:  # a collection starts
            if len(stack) >= MAX_DEPTH:
                raise DecodeError(f"{_where(source, event)}: nested more than {MAX_DEPTH} levels deep")
            stack.append(([] if isinstance(event, yaml.SequenceStartEvent) else {}, _NO_KEY))
            continue
        if not stack:
            document = value
            continue
        container, key = stack[-1]
        if isinstance(container, list):
            container.append(value)
        elif key is _NO_KEY:
            if isinstance(value, (dict, list)):
                raise DecodeError(f"{_where(source, event)}: a mapping key must be a scalar")
            if value in container:
                raise DecodeError(f"{_where(source, event)}: duplicate key {shorten(value)}")
            stack[-1] = (container, value)
        else:
            container[key] = value
            stack[-1] = (container, _NO_KEY)


_NO_KEY = object()
