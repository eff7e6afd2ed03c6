"""The NDR/PDR search against recorded loss curves: monotone, noisy, not monotone, trials
that fail to measure; it converges to the resolution and never reports an NDR with loss."""
import random

from hypothesis import given, settings
from hypothesis import strategies as st

from appliance.bench.rfc2544 import Trial, search

MAX = 14_880_952  # 64-byte line rate of 10GbE
CAPACITY = 1_234_567


def curve(loss_at):
    """A trial function from a loss curve: the fraction lost at an offered rate."""
    def trial(rate: float) -> Trial:
        tx = int(round(rate))  # one second's worth
        lost = int(round(tx * loss_at(rate)))
        return Trial(rate, 1.0, tx, tx - lost, dut_drops=lost)
    return trial


def capacity_curve(rate: float) -> float:
    return max(0.0, 1 - CAPACITY / rate)


def check_sound(result, loss_ratio):
    """The answers are measured trials that met their criterion, below every failure."""
    for b, tolerated in ((result.ndr, 0), (result.pdr, loss_ratio)):
        if b.trial is not None:
            assert b.trial.passes(tolerated) and b.trial.rate_pps == b.rate_pps
            failures = [t.rate_pps for t in result.trials if not t.passes(tolerated)]
            assert all(b.rate_pps < f for f in failures)
    if result.ndr.trial is not None:
        assert result.ndr.trial.rx_packets == result.ndr.trial.tx_packets
        assert result.ndr.trial.dut_drops == 0


def test_a_monotone_curve_converges_to_the_resolution():
    result = search(curve(capacity_curve), 10_000, MAX, loss_ratio=0.005, resolution=0.001)
    width = 0.001 * MAX
    assert result.converged
    assert CAPACITY - width <= result.ndr.rate_pps <= CAPACITY
    assert result.ndr.failed_at_pps - result.ndr.rate_pps <= width
    pdr_true = CAPACITY / (1 - 0.005)
    assert pdr_true - width <= result.pdr.rate_pps <= pdr_true
    assert result.pdr.rate_pps >= result.ndr.rate_pps
    check_sound(result, 0.005)
    # The first failure's delivered rate points at the answer: few trials are needed.
    assert len(result.trials) <= 12, [t.rate_pps for t in result.trials]


def test_a_noisy_curve_never_gives_an_ndr_with_loss():
    rng = random.Random(7)

    def noisy(rate: float) -> float:
        if rate < 0.9 * CAPACITY:
            return 0.0
        base = capacity_curve(rate)
        return base + rng.choice([0.0, 0.0, 0.00001, 0.0004])

    result = search(curve(noisy), 10_000, MAX, loss_ratio=0.005, resolution=0.002)
    check_sound(result, 0.005)
    assert 0.9 * CAPACITY - 0.002 * MAX <= result.ndr.rate_pps <= CAPACITY


def test_a_curve_with_a_dip_reports_below_the_lowest_failure():
    """Loss at 98.5-99.5% of capacity (where the search's first guess lands), none
    just under: the answers stay under the dip, which was measured."""
    def dip(rate: float) -> float:
        if 0.985 * CAPACITY <= rate <= 0.995 * CAPACITY:
            return 0.01
        return capacity_curve(rate)

    result = search(curve(dip), 10_000, MAX, loss_ratio=0.005, resolution=0.001)
    check_sound(result, 0.005)
    assert any(0.985 * CAPACITY <= t.rate_pps <= 0.995 * CAPACITY for t in result.trials)
    assert 0.985 * CAPACITY - 0.001 * MAX <= result.ndr.rate_pps < 0.985 * CAPACITY
    assert result.pdr.rate_pps < 0.985 * CAPACITY and result.converged


def test_a_trial_that_fails_to_measure_is_tried_again_then_counted_failed():
    calls = {}

    def flaky(rate: float) -> Trial:
        calls[rate] = calls.get(rate, 0) + 1
        if rate == MAX and calls[rate] == 1:
            return Trial(rate, 1.0, 0, 0, error="TRex: port 1 link down")
        if rate > 2 * CAPACITY:
            return Trial(rate, 1.0, 0, 0, error="appliance counters unreadable")
        return curve(capacity_curve)(rate)

    result = search(flaky, 10_000, MAX, loss_ratio=0.005, resolution=0.002, retries=1)
    assert calls[MAX] == 2, "retried once"
    errors = [t for t in result.trials if t.error]
    assert errors and all(not t.passes(0.005) for t in errors)
    check_sound(result, 0.005)
    assert abs(result.ndr.rate_pps - CAPACITY) <= 0.002 * MAX


def test_nothing_passes_no_answer_and_the_search_ends():
    result = search(curve(lambda rate: 0.5), 10_000, MAX, resolution=0.01, max_trials=30)
    assert result.ndr.rate_pps is None and result.pdr.rate_pps is None
    assert result.converged and len(result.trials) < 30
    assert min(t.rate_pps for t in result.trials) == 10_000, "the bottom was tried"


def test_a_rate_the_generator_could_not_offer_never_passes():
    """A generator that tops out at 2 Mpps: nothing above it is reported, whatever the loss."""
    def capped(rate: float) -> Trial:
        tx = int(min(rate, 2_000_000))
        return Trial(rate, 1.0, tx, tx)

    result = search(capped, 10_000, MAX, resolution=0.002)
    # (the generator's rate within 2% counts as offered)
    assert 2_000_000 - 0.002 * MAX <= result.ndr.rate_pps <= 2_000_000 / 0.98
    assert result.ndr.trial.tx_pps >= 0.98 * result.ndr.rate_pps and result.converged


def test_the_top_rate_passing_is_the_answer_after_one_trial():
    result = search(curve(lambda rate: 0.0), 10_000, MAX)
    assert result.ndr.rate_pps == result.pdr.rate_pps == MAX
    assert len(result.trials) == 1 and result.converged


def test_a_budget_ends_the_search_unconverged():
    result = search(curve(capacity_curve), 10_000, MAX, resolution=0.00001, max_trials=4)
    assert len(result.trials) == 4 and not result.converged
    check_sound(result, 0.005)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.floats(0, 0.02), min_size=20, max_size=20), st.floats(0.0001, 0.05))
def test_any_curve_gives_sound_answers(buckets, loss_ratio):
    """A loss curve of anything at all: the answers are still measured, clean, below failures."""
    def arbitrary(rate: float) -> float:
        return buckets[min(19, int(rate / MAX * 20))]

    result = search(curve(arbitrary), 1_000, MAX, loss_ratio=loss_ratio, resolution=0.01,
                    max_trials=25)
    check_sound(result, loss_ratio)
