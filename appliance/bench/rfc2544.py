"""RFC 2544 throughput search: NDR (no loss) and PDR (loss within a tolerance) in one pass.

Each trial offers one rate for a fixed time and reports its loss. The search keeps every
trial and derives both answers from them, so a curve that is noisy or not monotone cannot
produce a rate that was never measured clean: for each criterion the failing bound is the
lowest rate that failed, the passing bound the highest rate below it that passed, and the
answer is that passing trial (none if no rate passed). Trials go where the widest interval
still open is, PDR's first (an NDR is never above it), until both are as narrow as the
resolution or the trial budget is spent.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Callable


@dataclass
class Trial:
    rate_pps: float          # offered
    duration_s: float
    tx_packets: int          # what the generator sent
    rx_packets: int          # what came back to it
    dut_drops: int = 0       # what the router counted as dropped (all reasons)
    dut_drop_reasons: dict[str, int] = field(default_factory=dict)
    error: str | None = None  # the trial could not be measured (counted as failed)

    @property
    def tx_pps(self) -> float:
        return self.tx_packets / self.duration_s

    @property
    def rx_pps(self) -> float:
        return self.rx_packets / self.duration_s

    @property
    def generator_limited(self) -> bool:
        """The generator could not offer the rate: the trial says nothing about it."""
        return self.tx_pps < 0.98 * self.rate_pps

    @property
    def loss_ratio(self) -> float:
        if self.error or self.tx_packets == 0:
            return 1.0
        return max(0, self.tx_packets - self.rx_packets) / self.tx_packets

    def passes(self, tolerated_loss: float) -> bool:
        """No loss at all (NDR) in both counts, or at most the tolerated ratio (PDR), at
        the rate offered."""
        if self.error or self.tx_packets == 0 or self.generator_limited:
            return False
        if tolerated_loss == 0:
            return self.rx_packets >= self.tx_packets and self.dut_drops == 0
        return self.loss_ratio <= tolerated_loss


@dataclass
class Bound:
    rate_pps: float | None   # the highest passing trial below the lowest failing one
    failed_at_pps: float | None  # the lowest failing trial (None: the top rate passed)
    trial: Trial | None = None


@dataclass
class SearchResult:
    ndr: Bound
    pdr: Bound
    trials: list[Trial]
    converged: bool  # both intervals within the resolution (else the budget ran out)

    def as_dict(self) -> dict:
        return asdict(self)


def bound(trials: list[Trial], tolerated_loss: float) -> Bound:
    failed = [t.rate_pps for t in trials if not t.passes(tolerated_loss)]
    ceiling = min(failed) if failed else None
    passed = [t for t in trials if t.passes(tolerated_loss)
              and (ceiling is None or t.rate_pps < ceiling)]
    best = max(passed, key=lambda t: t.rate_pps) if passed else None
    return Bound(best.rate_pps if best else None, ceiling, best)


def search(trial: Callable[[float], Trial], min_pps: float, max_pps: float, *,
           loss_ratio: float = 0.005, resolution: float = 0.01, max_trials: int = 20,
           retries: int = 1, progress: Callable[[Trial, Bound, Bound], None] | None = None
           ) -> SearchResult:
    """`resolution`: the answer is within this fraction of `max_pps` of the true one.
    A trial that errors is tried again `retries` times, then counts as failed."""
    if not 0 < min_pps <= max_pps:
        raise ValueError(f"rates: need 0 < min ({min_pps}) <= max ({max_pps})")
    width = resolution * max_pps
    trials: list[Trial] = []
    steps: dict[float, float] = {}  # a rate tried by stepping up -> the step

    def run(rate: float) -> None:
        for _ in range(retries + 1):
            t = trial(rate)
            if t.error is None:
                break
        trials.append(t)
        if progress:
            progress(t, bound(trials, 0), bound(trials, loss_ratio))

    def next_rate(b: Bound) -> float | None:
        """Where to try next for one criterion, or None when it is settled."""
        high = b.failed_at_pps
        if high is None:
            return None  # the top rate passed
        low = b.rate_pps
        if low is None:
            tried_min = any(t.rate_pps == min_pps for t in trials)
            if high <= min_pps or (tried_min and high - min_pps <= width):
                return None  # nothing passes, not even at the bottom
            low = min_pps
            if high - low <= width:
                return min_pps  # the bottom itself, once
        if high - low <= width:
            return None
        # What the router delivered when overloaded is what it can forward: try just
        # under it once; from a pass there, step up by the resolution, doubling the
        # step while it passes; else halve the interval.
        delivered = [t.rx_pps for t in trials if not t.error and not t.passes(loss_ratio)]
        guess = max(delivered, default=0) * 0.99
        if low < guess < high and guess not in steps:
            steps[guess] = width / 2
            return guess
        step = 2 * steps.get(b.rate_pps, high)
        if low + step < high:
            steps[low + step] = step
            return low + step
        return (low + high) / 2

    run(max_pps)
    while len(trials) < max_trials:
        pdr, ndr = bound(trials, loss_ratio), bound(trials, 0)
        rate = next_rate(pdr)
        if rate is None:
            rate = next_rate(ndr)
        if rate is None:
            break
        run(rate)
    pdr, ndr = bound(trials, loss_ratio), bound(trials, 0)
    converged = next_rate(pdr) is None and next_rate(ndr) is None
    return SearchResult(ndr, pdr, trials, converged)
