"""Frame sizes of the benchmarks: Ethernet sizes with the FCS, and IMIX (64/594/1518 bytes
at 7:4:1 packets, as TRex's and CSIT's)."""
from __future__ import annotations

from appliance.errors import BenchError

IMIX = ((64, 7), (594, 4), (1518, 1))
L1_OVERHEAD = 20  # preamble + inter-frame gap, bytes


def parse_sizes(text: str) -> list[int | str]:
    out: list[int | str] = []
    for item in text.split(","):
        item = item.strip().lower()
        if item == "imix":
            out.append("imix")
            continue
        if not item.isdigit() or not 64 <= int(item) <= 9018:
            raise BenchError(f"--sizes: {item!r} is not a frame size (64..9018 bytes) or imix")
        out.append(int(item))
    return out


def mix(size: int | str) -> tuple[tuple[int, int], ...]:
    """(frame size, packet weight) pairs."""
    return IMIX if size == "imix" else ((int(size), 1),)


def sequence(size: int | str) -> list[int]:
    """One round of the mix, frame by frame (IMIX: 12 frames)."""
    return [s for s, weight in mix(size) for _ in range(weight)]


def average_size(size: int | str) -> float:
    pairs = mix(size)
    return sum(s * w for s, w in pairs) / sum(w for _, w in pairs)


def line_rate_pps(size: int | str, speed_gbps: float) -> float:
    return speed_gbps * 1e9 / ((average_size(size) + L1_OVERHEAD) * 8)
