"""The artifact a deploy ships: the appliance's wheel, built on the controller once per
source, with the wheels it runs on, in one tar a router installs offline. Routers need
Python and the DPDK runtime libraries only: no compiler, no libdpdk-dev, no package index.

The tar is named by version and a digest of the sources, so a cached one is never stale
and a rollback ships the same bytes as before.
"""
from __future__ import annotations

import hashlib
import shutil
import subprocess
import sys
import tarfile
import tempfile
import tomllib
from dataclasses import dataclass
from pathlib import Path

from appliance.errors import DeployError

SOURCES = ("pyproject.toml", "CMakeLists.txt", "native", "appliance")
DEFAULT_CACHE = Path.home() / ".cache" / "appliance" / "wheelhouses"


@dataclass(frozen=True)
class Wheelhouse:
    archive: Path
    version: str
    built: bool  # False: taken from the cache


def _is_source(path: Path) -> bool:
    return path.is_file() and "__pycache__" not in path.parts and path.suffix not in (".so", ".pyc")


def source_digest(source: Path) -> str:
    digest = hashlib.sha256()
    for top in SOURCES:
        root = source / top
        files = [root] if root.is_file() else sorted(p for p in root.rglob("*") if _is_source(p))
        for f in files:
            digest.update(str(f.relative_to(source)).encode() + b"\0" + f.read_bytes() + b"\0")
    return digest.hexdigest()[:16]


def source_version(source: Path) -> str:
    try:
        return tomllib.loads((source / "pyproject.toml").read_text())["project"]["version"]
    except (OSError, KeyError, tomllib.TOMLDecodeError) as e:
        raise DeployError(f"{source}: not the appliance's source tree ({e})") from None


def build(source: Path, cache: Path = DEFAULT_CACHE) -> Wheelhouse:
    """The wheelhouse tar of `source`, from the cache or built now (pip wheel: about a minute)."""
    source = source.resolve()
    version = source_version(source)
    archive = cache / f"appliance-{version}-{source_digest(source)}.tar"
    if archive.exists():
        return Wheelhouse(archive, version, built=False)
    cache.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="build-", dir=cache))
    try:
        wheels = work / "wheels"
        r = subprocess.run([sys.executable, "-m", "pip", "wheel", "--quiet", "--wheel-dir", str(wheels),
                            "-C", f"build-dir={work / 'build'}", str(source)],
                           capture_output=True, text=True)
        if r.returncode != 0:
            last = [line for line in (r.stderr or r.stdout).splitlines() if line.strip()][-5:]
            raise DeployError(f"building the wheel of {source} failed:\n" + "\n".join(last))
        partial = work / archive.name
        with tarfile.open(partial, "w") as tar:  # wheels are zips already: no compression
            for wheel in sorted(wheels.glob("*.whl")):
                tar.add(wheel, arcname=wheel.name)
        partial.rename(archive)  # whole or absent: an interrupted build leaves no archive
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return Wheelhouse(archive, version, built=True)
