"""`appliance capture ...`: packets to pcapng from a running appliance, through its API.

    appliance capture wan0 --filter 'icmp' -c 10 -w ping.pcapng
    appliance capture wan0 -w - | tcpdump -nr -
    appliance capture --drops --reason no_route -w drops.pcapng
"""
from __future__ import annotations

import argparse
import signal
import sys

from appliance.capture import DIRECTIONS, MAX_SNAPLEN, complete_blocks


def add_command(sub, leaf) -> None:
    c = leaf(sub, "capture", help="packets an interface receives and sends, or those the router "
                                  "drops (--drops, each with its reason as the packet's comment), "
                                  "to pcapng")
    c.add_argument("interface", nargs="?", help="an interface (port or sub-interface); "
                                                "none: every one")
    way = c.add_mutually_exclusive_group()
    for d in DIRECTIONS:
        way.add_argument(f"--{d}", dest="direction", action="store_const", const=d,
                         help=f"only what it {'receives' if d == 'in' else 'sends' if d == 'out' else 'receives and sends'}"
                              + (" (the default)" if d == "both" else ""))
    c.add_argument("--drops", action="store_true", help="the packets dropped (that came in on the "
                                                        "interface, if one is named), with why")
    c.add_argument("--reason", action="append", default=[], metavar="R",
                   help="with --drops: only this drop reason (again for more); see `appliance stats`")
    c.add_argument("--filter", "-f", default="", help="a tcpdump expression, e.g. 'tcp port 80'")
    c.add_argument("-c", dest="count", type=int, default=0, help="stop after N packets")
    c.add_argument("-s", dest="snaplen", type=int, default=MAX_SNAPLEN, help="bytes kept of each packet")
    c.add_argument("--seconds", type=float, default=0, help="stop after S seconds")
    c.add_argument("-w", dest="file", required=True, help="the pcapng file; '-' writes to stdout")


def run(client, args: argparse.Namespace) -> int:
    """Writes whole pcapng blocks as they arrive (a pipe reader sees each packet at once);
    Ctrl-C, SIGTERM or a closed pipe ends it with a file that reads."""
    stream = client.capture(interface=args.interface, direction=args.direction or "both",
                            drops=args.drops, reasons=args.reason, filter=args.filter,
                            count=args.count, snaplen=args.snaplen, seconds=args.seconds)
    # Ctrl-C and SIGTERM end it, as tcpdump's own handlers do, even when started with
    # SIGINT ignored (a shell's background job: Python then leaves it ignored).
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    try:
        pending = bytearray(next(stream))  # (a refused capture raises here: no file made)
    except (KeyboardInterrupt, StopIteration):
        return 0
    out = sys.stdout.buffer if args.file == "-" else open(args.file, "wb")
    try:
        out.write(complete_blocks(pending))
        out.flush()
        for piece in stream:
            pending += piece
            whole = complete_blocks(pending)
            if whole:
                out.write(whole)
                out.flush()
    except KeyboardInterrupt:
        pass
    except BrokenPipeError:  # the reader went (`| head`): what it read was whole
        sys.stderr.close()  # (no second complaint at exit)
        return 0
    finally:
        stream.close()
        if out is not sys.stdout.buffer:
            out.close()
    return 0
