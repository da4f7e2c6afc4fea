"""Tests for `pipeline/exits/stats.py`: the Wilson and normal intervals, McNemar's exact test and the paired
bootstrap, against values worked out by hand."""

import numpy as np
import pytest

from pipeline.exits.stats import Z95, mcnemar_exact, mean_interval, paired_bootstrap, seed_summary, wilson_interval


def test_wilson_by_hand():
    """97 of 100, z = 1.959964 (z^2 = 3.841459): denominator 1 + z^2/n = 1.0384146; centre
    (0.97 + z^2/200) / 1.0384146 = 0.989207 / 1.0384146 = 0.952613; half-width z / 1.0384146 *
    sqrt(0.97 * 0.03 / 100 + z^2 / 40000) = 1.887458 * 0.0196733 = 0.0371327 -> [0.915480, 0.989746]."""
    low, high = wilson_interval(97, 100)
    assert (low, high) == pytest.approx((0.915480, 0.989746), abs=2e-6)
    assert Z95 == pytest.approx(1.959964, abs=1e-6)


def test_wilson_at_the_edges_stays_inside_0_1():
    """0 of 10: centre = half-width = (z^2 / 20) / (1 + z^2 / 10) = 0.192073 / 1.384146 = 0.138767, so
    [0, 0.277533] (the Wald interval would be [0, 0]); 10 of 10 mirrors it."""
    assert wilson_interval(0, 10) == pytest.approx((0.0, 0.277533), abs=1e-6)
    low, high = wilson_interval(10, 10)
    assert (low, high) == pytest.approx((1 - 0.277533, 1.0), abs=1e-6)


def test_wilson_on_the_embedded_test_set():
    """One image of 540 is 0.19 points; a 96.85 % accuracy (523 / 540) has an interval of about +-1.5."""
    low, high = wilson_interval(523, 540)
    assert low < 523 / 540 < high and 0.025 < high - low < 0.035


@pytest.mark.parametrize("successes, n", [(-1, 10), (11, 10), (0, 0)])
def test_wilson_rejects_impossible_counts(successes, n):
    with pytest.raises(ValueError):
        wilson_interval(successes, n)


def test_mean_interval_by_hand():
    """[1, 2, 3, 4]: mean 2.5, s = sqrt(5/3) = 1.290994, half = z * s / 2 = 1.265151."""
    assert mean_interval(np.array([1, 2, 3, 4])) == pytest.approx((1.234849, 3.765151), abs=1e-6)
    assert mean_interval(np.array([2.0, 2.0, 2.0])) == (2.0, 2.0)


def test_mcnemar_exact_by_hand():
    """5 inputs only A gets right, none only B: p = 2 * (1/2)^5 = 0.0625. Three each way: p = 1."""
    a = np.array([1, 1, 1, 1, 1, 0, 1], dtype=bool)
    b = np.array([0, 0, 0, 0, 0, 0, 1], dtype=bool)
    assert mcnemar_exact(a, b) == pytest.approx(0.0625)
    assert mcnemar_exact([1, 1, 1, 0, 0, 0], [0, 0, 0, 1, 1, 1]) == 1.0
    assert mcnemar_exact([1, 0], [1, 0]) == 1.0  # they never disagree


def test_paired_bootstrap_sees_what_is_shared_and_what_is_not():
    """Equal per-input values: difference 0, interval [0, 0], not significant. A always right, B never:
    difference 1 on every resample. Shared noise cancels: B = A except 8 of 400 inputs, all in A's favour
    -> difference 0.02 with a narrow interval above 0, although each accuracy alone is uncertain by ~+-5 %."""
    rng = np.random.default_rng(0)
    a = (rng.random(400) < 0.5).astype(float)
    same = paired_bootstrap(a, a)
    assert (same.estimate, same.low, same.high, same.significant) == (0.0, 0.0, 0.0, False)
    always = paired_bootstrap(np.ones(50), np.zeros(50))
    assert (always.estimate, always.low, always.high, always.significant) == (1.0, 1.0, 1.0, True)
    b = a.copy()
    flipped = np.flatnonzero(a == 1)[:8]
    b[flipped] = 0
    diff = paired_bootstrap(a, b)
    assert (
        diff.estimate == pytest.approx(0.02) and diff.significant and 0 < diff.low < 0.02 < diff.high <= 0.035
    )
    assert paired_bootstrap(a, b) == diff  # seeded


def test_paired_bootstrap_rejects_mismatched_inputs():
    with pytest.raises(ValueError):
        paired_bootstrap(np.ones(3), np.ones(4))


def test_seed_summary_by_hand():
    """Seeds 1, 2, 3 -> mean 2, std 1 (n - 1 degrees), t(0.975, 2) = 4.3027 -> 2 -+ 4.3027 / sqrt(3)."""
    s = seed_summary(np.array([1.0, 2.0, 3.0]))
    assert (s.mean, s.std, s.n) == (2.0, 1.0, 3)
    assert s.high - s.mean == pytest.approx(4.3027 / np.sqrt(3), rel=1e-4)
    assert s.mean - s.low == pytest.approx(s.high - s.mean)
    one = seed_summary(np.array([97.0]))
    assert one.mean == 97.0 and one.n == 1 and np.isnan(one.std) and np.isnan(one.low)
    with pytest.raises(ValueError):
        seed_summary(np.array([]))
