"""Wheelhouses for the deploy tests: the one `appliance wheel` builds from this checkout,
and the same build relabelled with another version (what an upgrade ships)."""
import base64
import hashlib
import json
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path


def build() -> Path:
    r = subprocess.run([sys.executable, "-m", "appliance", "wheel", "--json"], capture_output=True,
                       text=True, timeout=900)
    assert r.returncode == 0, r.stderr
    return Path(json.loads(r.stdout)["archive"])


def _record_line(name: str, data: bytes) -> str:
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
    return f"{name},sha256={digest},{len(data)}"


def relabel(wheel: Path, version: str, out: Path) -> Path:
    """The wheel with its version changed in its metadata, its dist-info and its name, the
    RECORD hashed again: a valid wheel pip installs as that version."""
    old = wheel.name.split("-")[1]
    target = out / wheel.name.replace(f"-{old}-", f"-{version}-")
    with zipfile.ZipFile(wheel) as src, zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as dst:
        files: dict[str, bytes] = {}
        for item in src.infolist():
            name = item.filename.replace(f"appliance-{old}.dist-info/", f"appliance-{version}.dist-info/")
            data = src.read(item)
            if name.endswith(".dist-info/METADATA"):
                data = data.replace(f"\nVersion: {old}\n".encode(), f"\nVersion: {version}\n".encode())
            files[name] = data
        record = next(n for n in files if n.endswith(".dist-info/RECORD"))
        files[record] = ("\n".join(_record_line(n, d) for n, d in files.items() if n != record)
                         + f"\n{record},,\n").encode()
        for name, data in files.items():
            dst.writestr(name, data)
    return target


def with_version(archive: Path, version: str, out: Path) -> Path:
    """The wheelhouse with the appliance's wheel relabelled `version`, its dependencies as they were."""
    unpacked = out / f"unpacked-{version}"
    unpacked.mkdir(parents=True)
    with tarfile.open(archive) as tar:
        tar.extractall(unpacked, filter="data")
    wheel = next(unpacked.glob("appliance-*.whl"))
    relabel(wheel, version, unpacked)
    wheel.unlink()
    result = out / f"appliance-{version}.tar"
    with tarfile.open(result, "w") as tar:
        for w in sorted(unpacked.glob("*.whl")):
            tar.add(w, arcname=w.name)
    return result
