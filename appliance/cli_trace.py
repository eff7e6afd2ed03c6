"""`appliance trace ...`: what the router decides for a few packets, stage by stage.

    appliance trace start --port lan0 --count 5 --match 'icmp and host 10.0.2.2'
    appliance trace show
    appliance trace stop
"""
from __future__ import annotations

import argparse

from appliance.trace import MAX_COUNT, render


def add_commands(group, leaf) -> None:
    s = leaf(group, "start", help="trace the next packets received (replacing the last trace)")
    s.add_argument("--port", help="only what this interface (port or sub-interface) receives")
    s.add_argument("--count", type=int, default=16, metavar="N",
                   help=f"packets to trace (1..{MAX_COUNT}; default 16): then tracing stops")
    s.add_argument("--match", default="", metavar="EXPR",
                   help="only packets this tcpdump expression takes, e.g. 'icmp and host 10.0.2.2'")
    leaf(group, "show", help="each traced packet, then each stage's decision")
    leaf(group, "stop", help="stop choosing packets (what was traced stays for show)")


def run(c, args: argparse.Namespace) -> None:
    if args.verb == "start":
        c.trace_start(args.port, args.count, args.match)
    elif args.verb == "stop":
        c.trace_stop()
    else:
        shown = c.trace_show()
        if args.json:
            import json
            print(json.dumps(shown, indent=2))
        else:
            print(render(shown), end="")
