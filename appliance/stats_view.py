"""Human views of stats(): rates between two snapshots, as a table."""
from __future__ import annotations

from typing import Any


def rates(before: dict[str, Any], after: dict[str, Any], seconds: float) -> dict[str, Any]:
    """Per-port packets/s and bits/s, drops/s by reason, per-worker cycles/packet."""
    ports = {}
    for name, now in after["ports"].items():
        then = before["ports"][name]
        ports[name] = {
            "rx_pps": (now["ipackets"] - then["ipackets"]) / seconds,
            "tx_pps": (now["opackets"] - then["opackets"]) / seconds,
            "rx_bps": 8 * (now["ibytes"] - then["ibytes"]) / seconds,
            "tx_bps": 8 * (now["obytes"] - then["obytes"]) / seconds,
        }
    drops = {r: (after["drops"][r] - before["drops"][r]) / seconds for r in after["drops"]}
    workers = []
    for then, now in zip(before["workers"], after["workers"]):
        packets = now["busy_packets"] - then["busy_packets"]
        cycles = now["busy_cycles"] - then["busy_cycles"]
        # .get: an appliance started before stage clocks existed has no such counters.
        clocks_now, clocks_then = now.get("stage_cycles", {}), then.get("stage_cycles", {})
        stages = {s: (c - clocks_then.get(s, 0)) / packets
                  for s, c in clocks_now.items()} if packets else {}
        workers.append({"lcore": now["lcore"], "pps": packets / seconds,
                        "cycles_per_packet": cycles / packets if packets else 0.0,
                        # with stage clocks on: where the cycles go, per packet
                        "stage_cycles_per_packet": {s: c for s, c in stages.items() if c}})
    return {"ports": ports, "drops_per_s": drops, "workers": workers}


def si(value: float) -> str:
    for unit, scale in (("G", 1e9), ("M", 1e6), ("k", 1e3)):
        if abs(value) >= scale:
            return f"{value / scale:.2f}{unit}"
    return f"{value:.0f}"


def render(r: dict[str, Any]) -> str:
    lines = [f"{'port':<8}{'rx pps':>10}{'tx pps':>10}{'rx bps':>10}{'tx bps':>10}"]
    for name, p in r["ports"].items():
        lines.append(f"{name:<8}{si(p['rx_pps']):>10}{si(p['tx_pps']):>10}"
                     f"{si(p['rx_bps']):>10}{si(p['tx_bps']):>10}")
    dropping = {k: v for k, v in r["drops_per_s"].items() if v}
    lines.append("drops/s " + (", ".join(f"{k} {si(v)}" for k, v in dropping.items()) or "none"))
    for w in r["workers"]:
        stages = w.get("stage_cycles_per_packet")
        lines.append(f"worker lcore {w['lcore']}: {si(w['pps'])} pps, "
                     f"{w['cycles_per_packet']:.1f} cycles/packet"
                     + (" (" + ", ".join(f"{s} {c:.1f}" for s, c in stages.items()) + ")"
                        if stages else ""))
    return "\n".join(lines)
