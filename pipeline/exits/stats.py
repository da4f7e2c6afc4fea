"""Uncertainty of the numbers we compare: intervals for an accuracy and an average, and paired tests of two
exit policies on the same test inputs.

- Accuracy (a proportion k / n): the Wilson score interval. Unlike the normal ("Wald") interval it stays
  inside [0, 1] and keeps its coverage near 0 and 1, where SNN accuracies on small test sets sit.
- Average timesteps (the mean of per-input exit steps): the normal interval mean +- z s / sqrt(n), with s
  the sample standard deviation (n - 1); exit steps are bounded by T, so the mean is close to normal for
  the test-set sizes used here (hundreds to tens of thousands).
- Two classifiers' accuracies on the same inputs: McNemar's exact test, a two-sided binomial test with
  p = 1/2 on the discordant inputs only (b: right under A only, c: right under B only). A paired bootstrap is
  anti-conservative on few discordant inputs (a 4-0 split looks "significant" for most bootstrap seeds while
  the exact p is 0.125), so accuracy differences are tested exactly.
- Two policies' average timesteps on the same inputs: the paired t interval of the mean per-input
  difference (with its p-value), or a paired bootstrap over the inputs (resampled together, so what both
  share cancels); on hundreds of inputs the two agree to a few thousandths of a step.
- Several tests in one table: Holm's step-down adjustment of their p-values (family-wise error 5 %).

Everything is numpy (scipy for the binomial and t distributions, imported where used); the bootstrap draws
come from a seeded generator, so reports are reproducible.
"""

import math
from dataclasses import dataclass

import numpy as np

Z95 = 1.959963984540054  # two-sided 95 % quantile of the standard normal
BOOTSTRAP_SAMPLES = (
    2000  # paired bootstrap resamples (another seed moves the interval's ends by 1-2 % of its width)
)
BOOTSTRAP_SEED = 0


def wilson_interval(successes: int, n: int, z: float = Z95) -> tuple[float, float]:
    """Wilson score interval of the proportion `successes / n`, as fractions `(low, high)`.

    centre = (p + z^2 / 2n) / (1 + z^2 / n), half = z / (1 + z^2 / n) * sqrt(p (1 - p) / n + z^2 / 4n^2).
    """
    if n <= 0:
        raise ValueError(f"n must be positive, got {n}")
    if not 0 <= successes <= n:
        raise ValueError(f"successes must be in 0..{n}, got {successes}")
    p = successes / n
    denominator = 1.0 + z * z / n
    centre = (p + z * z / (2 * n)) / denominator
    half = z / denominator * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    return max(0.0, centre - half), min(1.0, centre + half)


def mean_interval(values: np.ndarray, z: float = Z95) -> tuple[float, float]:
    """Normal interval of the mean of `values [n]`: mean +- z * s / sqrt(n) (s with n - 1 degrees); NaN
    ends for one value, whose spread is unknown."""
    values = np.asarray(values, dtype=np.float64)
    n = len(values)
    if n == 0:
        raise ValueError("no values")
    mean = float(values.mean())
    if n == 1:
        return math.nan, math.nan
    half = z * float(values.std(ddof=1)) / math.sqrt(n)
    return mean - half, mean + half


@dataclass(frozen=True)
class SeedSummary:
    """One number over n training seeds."""

    mean: float
    std: float  # sample standard deviation (n - 1 degrees); NaN for one seed
    low: float  # 95 % Student-t interval of the mean: mean -+ t(0.975, n - 1) * std / sqrt(n)
    high: float
    n: int


def seed_summary(values: np.ndarray, bounds: tuple[float, float] | None = None) -> SeedSummary:
    """Mean, standard deviation and the t interval of the mean of `values [n]`, one per seed; `bounds`
    clips the interval to the values' possible range (e.g. (0, 100) for an accuracy in %)."""
    from scipy.stats import t as student_t  # only the tables stage needs it

    values = np.asarray(values, dtype=np.float64)
    n = len(values)
    if n == 1:
        return SeedSummary(float(values[0]), math.nan, math.nan, math.nan, 1)
    low, high = mean_interval(values, z=float(student_t.ppf(0.975, max(n - 1, 1))))  # raises on no values
    if bounds is not None:
        low, high = max(bounds[0], low), min(bounds[1], high)
    return SeedSummary(float(values.mean()), float(values.std(ddof=1)), low, high, n)


@dataclass(frozen=True)
class PairedDifference:
    """A minus B on the same inputs, with its paired-bootstrap 95 % interval."""

    estimate: float  # the difference on the full test set
    low: float  # 2.5 % bootstrap quantile
    high: float  # 97.5 % bootstrap quantile

    @property
    def significant(self) -> bool:
        """The interval excludes 0: A and B differ beyond the noise of this test set."""
        return self.low > 0 or self.high < 0


def paired_bootstrap(
    a: np.ndarray,
    b: np.ndarray,
    samples: int = BOOTSTRAP_SAMPLES,
    seed: int = BOOTSTRAP_SEED,
    level: float = 0.95,
) -> PairedDifference:
    """Percentile interval of `mean(a) - mean(b)` over inputs resampled with replacement, `a` and `b`
    `[N]` per-input values of two policies on the same inputs (1/0 for correct, or exit steps)."""
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    if a.shape != b.shape or a.ndim != 1 or len(a) == 0:
        raise ValueError(f"a and b must be equal-length 1-d arrays, got {a.shape} and {b.shape}")
    diff = a - b  # [N]: resampling inputs resamples both policies together
    rng = np.random.default_rng(seed)
    n = len(diff)
    means = np.empty(samples)
    for start in range(0, samples, 250):  # [250, N] index blocks keep memory small for large N
        idx = rng.integers(0, n, size=(min(250, samples - start), n))
        means[start : start + len(idx)] = diff[idx].mean(axis=1)
    tail = (1 - level) / 2
    low, high = np.quantile(means, [tail, 1 - tail])
    return PairedDifference(float(diff.mean()), float(low), float(high))


@dataclass(frozen=True)
class McNemar:
    """Exact McNemar test of classifier A against B on the same inputs."""

    b: int  # inputs right under A only
    c: int  # inputs right under B only
    p: float  # two-sided exact p-value (1 when they never disagree)

    @property
    def delta(self) -> float:
        """Accuracy of B minus A as a count of inputs, c - b."""
        return self.c - self.b


def mcnemar(correct_a: np.ndarray, correct_b: np.ndarray) -> McNemar:
    """Exact McNemar test on `correct_a [N]`, `correct_b [N]` (bool): under the null each of the b + c
    discordant inputs is A's or B's with probability 1/2, so p = P(|X - n/2| >= |b - n/2|) for X ~
    Binomial(n = b + c, 1/2), i.e. twice the smaller tail, capped at 1 (scipy's binomial test: no overflow
    for any n)."""
    from scipy.stats import binomtest

    correct_a = np.asarray(correct_a, dtype=bool)
    correct_b = np.asarray(correct_b, dtype=bool)
    if correct_a.shape != correct_b.shape or correct_a.ndim != 1:
        raise ValueError(f"need two equal-length 1-d arrays, got {correct_a.shape} and {correct_b.shape}")
    b = int((correct_a & ~correct_b).sum())
    c = int((~correct_a & correct_b).sum())
    p = 1.0 if b + c == 0 else float(binomtest(b, b + c, 0.5).pvalue)
    return McNemar(b, c, min(1.0, p))


def mcnemar_exact(correct_a: np.ndarray, correct_b: np.ndarray) -> float:
    """The p-value of `mcnemar`."""
    return mcnemar(correct_a, correct_b).p


@dataclass(frozen=True)
class PairedT:
    """Mean of per-input differences A - B with its paired t interval and two-sided p-value."""

    estimate: float
    low: float
    high: float
    p: float


def paired_t(a: np.ndarray, b: np.ndarray, level: float = 0.95) -> PairedT:
    """Paired t test of `mean(a) - mean(b)` over `a [N]`, `b [N]` on the same inputs (N >= 2): d = a - b,
    interval mean(d) -+ t(1 - (1 - level) / 2, N - 1) * s_d / sqrt(N), p from |mean(d)| / (s_d / sqrt(N)).
    With no spread (s_d = 0) the difference is exact: p = 1 when it is 0, else 0."""
    from scipy.stats import t as student_t

    d = np.asarray(a, dtype=np.float64) - np.asarray(b, dtype=np.float64)
    if d.ndim != 1 or len(d) < 2:
        raise ValueError(f"need two equal-length 1-d arrays of at least 2 values, got {np.shape(d)}")
    n, mean, sd = len(d), float(d.mean()), float(d.std(ddof=1))
    if sd == 0.0:
        return PairedT(mean, mean, mean, 1.0 if mean == 0.0 else 0.0)
    se = sd / math.sqrt(n)
    half = float(student_t.ppf(1 - (1 - level) / 2, n - 1)) * se
    p = float(2 * student_t.sf(abs(mean) / se, n - 1))
    return PairedT(mean, mean - half, mean + half, min(1.0, p))


def holm(p_values: np.ndarray) -> np.ndarray:
    """Holm's step-down adjusted p-values of `p_values [m]` (NaN entries are not tests and stay NaN): sort
    the m valid p ascending, adjusted p_(i) = max over j <= i of min(1, (m - j + 1) p_(j)); a test is
    significant at family-wise level 5 % when its adjusted p < 0.05."""
    p = np.asarray(p_values, dtype=np.float64)
    out = np.full(p.shape, np.nan)
    valid = np.flatnonzero(~np.isnan(p))
    m = len(valid)
    if m == 0:
        return out
    order = valid[np.argsort(p[valid], kind="stable")]
    scaled = np.minimum(1.0, (m - np.arange(m)) * p[order])  # (m - j + 1) p_(j), j = 1..m
    out[order] = np.maximum.accumulate(scaled)
    return out
