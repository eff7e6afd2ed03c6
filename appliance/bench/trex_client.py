"""The TRex stateless client that comes with the user's TRex server.

The PyPI `trex-stl-lib` speaks an older RPC version than v3 servers accept, so the client is
loaded from the TRex installation itself (`--trex-dir`, else $APPLIANCE_TREX_DIR, else
/opt/trex). It brings its own scapy, PyYAML and pyzmq and puts them first on sys.path,
replacing modules of those names already loaded: load it in a process that needs no other
scapy or YAML afterwards (the `appliance bench trex` command; tests use a subprocess).
"""
from __future__ import annotations

import contextlib
import io
import os
import sys
import warnings
from pathlib import Path
from types import ModuleType

from appliance.errors import BenchError

CLIENT_SUBDIR = Path("automation/trex_control_plane/interactive")
DEFAULT_DIR = Path("/opt/trex")


def trex_dir(given: str | os.PathLike | None = None) -> Path:
    return Path(given or os.environ.get("APPLIANCE_TREX_DIR") or DEFAULT_DIR)


def load_api(given: str | os.PathLike | None = None) -> ModuleType:
    """trex.stl.api from the TRex installation."""
    root = trex_dir(given)
    client = root / CLIENT_SUBDIR
    if not (client / "trex" / "stl" / "api.py").is_file():
        raise BenchError(f"no TRex client under {root} (looked for {CLIENT_SUBDIR}/trex/stl): "
                         "give --trex-dir or set APPLIANCE_TREX_DIR to the TRex directory")
    if str(client) not in sys.path:
        sys.path.insert(0, str(client))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # its scapy 2.4.3 warns about newer cryptography
        import trex.stl.api as api
    return api


def connect(api: ModuleType, server: str, timeout_s: float = 5.0):
    """A connected STLClient, or a one-line BenchError."""
    client = api.STLClient(server=server, verbose_level="error", sync_timeout=timeout_s)
    try:
        with contextlib.redirect_stdout(io.StringIO()):
            client.connect()
    except api.TRexError as e:
        raise BenchError(f"TRex server {server}: {first_line(e)}") from None
    return client


def first_line(e: Exception) -> str:
    text = " ".join(str(e).split())
    return text.replace("*** ", "")[:300] or type(e).__name__
