"""Uncertainty of the numbers we compare: intervals for an accuracy and an average, and paired tests of two
exit policies on the same test inputs.

- Accuracy (a proportion k / n): the Wilson score interval. Unlike the normal ("Wald") interval it stays
  inside [0, 1] and keeps its coverage near 0 and 1, where SNN accuracies on small test sets sit.
- Average timesteps (the mean of per-input exit steps): the normal interval mean +- z s / sqrt(n), with s
  the sample standard deviation (n - 1); exit steps are bounded by T, so the mean is close to normal for
  the test-set sizes used here (hundreds to tens of thousands).
- Two policies on the same inputs: a paired bootstrap over the inputs (the inputs are resampled together,
  so what both policies share cancels), giving an interval for the difference in accuracy and in average
  timesteps; a difference is significant at the 95 % level when its interval excludes 0. McNemar's exact
  test is offered for accuracy differences (it uses only the inputs on which the two disagree).

Everything is numpy; the bootstrap draws come from a seeded generator, so reports are reproducible.
"""

import math
from dataclasses import dataclass

import numpy as np

Z95 = 1.959963984540054  # two-sided 95 % quantile of the standard normal
BOOTSTRAP_SAMPLES = 2000  # paired bootstrap resamples (the interval's ends move by ~0.1 % of its width)
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
    """Normal interval of the mean of `values [n]`: mean +- z * s / sqrt(n) (s with n - 1 degrees)."""
    values = np.asarray(values, dtype=np.float64)
    n = len(values)
    if n == 0:
        raise ValueError("no values")
    mean = float(values.mean())
    if n == 1:
        return mean, mean
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


def seed_summary(values: np.ndarray) -> SeedSummary:
    """Mean, standard deviation and the t interval of the mean of `values [n]`, one per seed."""
    from scipy.stats import t as student_t  # only the tables stage needs it

    values = np.asarray(values, dtype=np.float64)
    n = len(values)
    if n == 1:
        return SeedSummary(float(values[0]), math.nan, math.nan, math.nan, 1)
    low, high = mean_interval(values, z=float(student_t.ppf(0.975, max(n - 1, 1))))  # raises on no values
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


def mcnemar_exact(correct_a: np.ndarray, correct_b: np.ndarray) -> float:
    """Two-sided exact McNemar p-value for two classifiers on the same inputs: a binomial test with
    p = 1/2 on the inputs where exactly one of them is right."""
    correct_a = np.asarray(correct_a, dtype=bool)
    correct_b = np.asarray(correct_b, dtype=bool)
    only_a = int((correct_a & ~correct_b).sum())
    only_b = int((~correct_a & correct_b).sum())
    n = only_a + only_b
    if n == 0:
        return 1.0
    k = min(only_a, only_b)
    tail = sum(math.comb(n, i) for i in range(k + 1)) / 2.0**n
    return min(1.0, 2.0 * tail)
