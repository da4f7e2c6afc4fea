"""Tests for `pipeline/exits/stats.py`: the Wilson and normal intervals, McNemar's exact test, the paired t
interval, Holm's adjustment and the paired bootstrap, against values worked out by hand."""

import math
from fractions import Fraction

import numpy as np
import pytest

from pipeline.exits.stats import (
    Z95,
    holm,
    mcnemar,
    mcnemar_exact,
    mean_interval,
    paired_bootstrap,
    paired_t,
    seed_summary,
    wilson_interval,
)


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


def test_mean_interval_of_one_value_is_unknown():
    """One value has no spread to estimate: NaN ends, not a zero-width interval."""
    low, high = mean_interval(np.array([3.0]))
    assert math.isnan(low) and math.isnan(high)


def test_mcnemar_exact_by_hand():
    """5 inputs only A gets right, none only B: p = 2 * (1/2)^5 = 0.0625. Three each way: p = 1."""
    a = np.array([1, 1, 1, 1, 1, 0, 1], dtype=bool)
    b = np.array([0, 0, 0, 0, 0, 0, 1], dtype=bool)
    assert mcnemar_exact(a, b) == pytest.approx(0.0625)
    assert mcnemar_exact([1, 1, 1, 0, 0, 0], [0, 0, 0, 1, 1, 1]) == 1.0
    assert mcnemar_exact([1, 0], [1, 0]) == 1.0  # they never disagree


def _split(b: int, c: int, agree: int = 3) -> tuple[np.ndarray, np.ndarray]:
    """Correctness arrays with b inputs right under A only, c under B only, `agree` right under both."""
    a = np.array([1] * b + [0] * c + [1] * agree, dtype=bool)
    return a, np.array([0] * b + [1] * c + [1] * agree, dtype=bool)


@pytest.mark.parametrize(
    "b, c, p",
    [
        (4, 0, 0.125),  # 2 * (1/2)^4: a 4-0 split is not significant
        (0, 5, 0.0625),  # 2 * (1/2)^5
        (10, 3, 2 * 378 / 8192),  # n = 13: P(X <= 3) = (1 + 13 + 78 + 286) / 2^13 = 0.046143 -> 0.092285
        (6, 6, 1.0),
    ],
)
def test_mcnemar_tails_by_hand(b, c, p):
    result = mcnemar(*_split(b, c))
    assert (result.b, result.c, result.delta) == (b, c, c - b)
    assert result.p == pytest.approx(p, rel=1e-9)


def test_mcnemar_past_a_thousand_discordant_inputs():
    """1,200 discordant inputs (640 / 560), where 2.0**n overflowed a float: the exact tail
    2 * sum_{i <= 560} C(1200, i) / 2^1200 in integer arithmetic, then one rounding."""
    b, c = 640, 560
    n = b + c
    tail = Fraction(sum(math.comb(n, i) for i in range(c + 1)), 2**n)
    result = mcnemar(*_split(b, c))
    assert result.p == pytest.approx(float(2 * tail), rel=1e-9) and 0.01 < result.p < 0.05
    assert mcnemar_exact(*_split(b, c)) == result.p


def test_paired_t_by_hand():
    """d = [1, 2, 3, 4]: mean 2.5, s = 1.290994, se = 0.645497, t(0.975, 3) = 3.182446 -> [0.445739,
    4.554261]; t = 3.872983 with 3 degrees, where the t CDF has the closed form 1/2 + (u / (1 + u^2) +
    atan(u)) / pi with u = t / sqrt(3)."""
    result = paired_t(np.array([1.0, 2.0, 3.0, 4.0]), np.zeros(4))
    assert (result.estimate, result.low, result.high) == pytest.approx((2.5, 0.445739, 4.554261), abs=1e-6)
    u = 3.872983 / math.sqrt(3)
    cdf = 0.5 + (u / (1 + u * u) + math.atan(u)) / math.pi
    assert result.p == pytest.approx(2 * (1 - cdf), rel=1e-5)
    same = paired_t(np.ones(5), np.ones(5))
    assert (same.estimate, same.low, same.high, same.p) == (0.0, 0.0, 0.0, 1.0)
    shifted = paired_t(np.full(5, 2.0), np.ones(5))  # every input one step later: exact, no noise
    assert (shifted.estimate, shifted.p) == (1.0, 0.0)
    with pytest.raises(ValueError):
        paired_t(np.ones(1), np.ones(1))


def test_holm_by_hand():
    """p = [0.01, 0.04, 0.03, 0.005]: ascending 0.005, 0.01, 0.03, 0.04 times 4, 3, 2, 1 = 0.02, 0.03,
    0.06, 0.04; running maximum 0.02, 0.03, 0.06, 0.06 -> back in place [0.03, 0.06, 0.06, 0.02].
    A NaN is not a test: it stays NaN and does not count in m."""
    assert holm(np.array([0.01, 0.04, 0.03, 0.005])) == pytest.approx([0.03, 0.06, 0.06, 0.02])
    adjusted = holm(np.array([0.01, np.nan, 0.04]))
    assert adjusted[0] == pytest.approx(0.02) and np.isnan(adjusted[1]) and adjusted[2] == pytest.approx(0.04)
    assert holm(np.array([0.6, 0.9])) == pytest.approx([1.0, 1.0])
    assert holm(np.array([])).shape == (0,)


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


def test_seed_summary_clips_to_bounds():
    """Accuracies 99, 100, 100 (%): mean 99.667, s = 0.57735, t interval 99.667 -+ 4.3027 * 0.33333 =
    [98.232, 101.101]; an accuracy cannot pass 100, so bounds (0, 100) clip the upper end."""
    s = seed_summary(np.array([99.0, 100.0, 100.0]), bounds=(0.0, 100.0))
    assert s.low == pytest.approx(99.666667 - 4.302653 * 0.333333, abs=1e-4) and s.high == 100.0
