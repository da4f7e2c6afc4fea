"""Tests for `pipeline/exits/metrics.py`: accumulation, accuracy per timestep, AET (eq. 4), empirical
AET (eq. 13)."""

import numpy as np
import pytest

from pipeline.exits.metrics import (
    accumulate,
    accuracy_per_timestep,
    aet,
    correct_per_timestep,
    empirical_aet,
    first_correct_step,
)

# --------------------------------------------------------------------------------------------------
# Brute-force references, written literally from the paper's definitions with Python loops.
# --------------------------------------------------------------------------------------------------


def _running_argmax(logits: np.ndarray, t: int, i: int) -> int:
    """Argmax over classes of sum_{s=1..t} logits[s-1, i] (1-based t), one sample at a time."""
    C = logits.shape[2]
    totals = [sum(float(logits[s, i, c]) for s in range(t)) for c in range(C)]
    return max(range(C), key=lambda c: (totals[c], -c))  # first index on ties, like np.argmax


def _correct_sets(logits: np.ndarray, labels: np.ndarray) -> list[set[int]]:
    """C_t for t = 1..T: the set of samples whose accumulated prediction after t steps is right."""
    T, N, _ = logits.shape
    return [{i for i in range(N) if _running_argmax(logits, t, i) == labels[i]} for t in range(1, T + 1)]


def _brute_aet(logits: np.ndarray, labels: np.ndarray) -> float:
    """Paper eq. 4: (|C_1| + T|W| + sum_{t=2..T} t(|C_t| - |C_{t-1}|)) / N with W the complement of C_T."""
    T, N, _ = logits.shape
    C = _correct_sets(logits, labels)
    W = set(range(N)) - C[T - 1]
    total = len(C[0]) + T * len(W)
    for t in range(2, T + 1):
        total += t * (len(C[t - 1]) - len(C[t - 2]))
    return total / N


def _brute_empirical_aet(logits: np.ndarray, labels: np.ndarray) -> float:
    """Paper eq. 13: mean over samples of the earliest correct t, T for a sample never correct."""
    T, N, _ = logits.shape
    total = 0
    for i in range(N):
        earliest = T
        for t in range(1, T + 1):
            if _running_argmax(logits, t, i) == labels[i]:
                earliest = t
                break
        total += earliest
    return total / N


def _random_case(seed: int, T: int, N: int, C: int) -> tuple[np.ndarray, np.ndarray]:
    """Random float32 per-timestep logits `[T, N, C]` and labels `[N]`."""
    rng = np.random.default_rng(seed)
    logits = rng.normal(size=(T, N, C)).astype(np.float32)
    labels = rng.integers(0, C, size=N)
    return logits, labels


def _monotone_case(first_correct: np.ndarray, T: int, C: int) -> tuple[np.ndarray, np.ndarray]:
    """Logits `[T, N, C]` whose accumulated prediction turns right at step `first_correct[i]` (1-based;
    T + 1 = never) and then stays right (Assumption 3.1). Labels are 0, the wrong class is 1."""
    N = len(first_correct)
    logits = np.zeros((T, N, C))
    for i, k in enumerate(first_correct):
        for t in range(1, T + 1):
            if t < k:
                logits[t - 1, i, 1] = 1.0  # wrong class leads by t after t steps
            elif t == k:
                logits[t - 1, i, 0] = 2.0 * T  # label overtakes the wrong class for good
            else:
                logits[t - 1, i, 0] = 1.0
    return logits, np.zeros(N, dtype=np.int64)


# --------------------------------------------------------------------------------------------------
# Paper appendix A worked example.
# --------------------------------------------------------------------------------------------------

# Per-timestep logits `[T=4, N, C=2]`, label 0 for every sample; integers, so the sums are exact.
WORKED_LOGITS = np.array(
    [
        # sample 0: flips    sample 1: always right   sample 2: never right   sample 3: right from t=3
        [[0.0, 1.0], [1.0, 0.0], [0.0, 1.0], [0.0, 1.0]],  # t=1 sums: [0,1] [1,0] [0,1] [0,1]
        [[2.0, 0.0], [1.0, 0.0], [0.0, 1.0], [0.0, 1.0]],  # t=2 sums: [2,1] [2,0] [0,2] [0,2]
        [[0.0, 2.0], [1.0, 0.0], [0.0, 1.0], [3.0, 0.0]],  # t=3 sums: [2,3] [3,0] [0,3] [3,2]
        [[2.0, 0.0], [1.0, 0.0], [0.0, 1.0], [1.0, 0.0]],  # t=4 sums: [4,3] [4,0] [0,4] [4,2]
    ]
)
WORKED_LABELS = np.zeros(4, dtype=np.int64)
# Expected per-sample correctness of the accumulated prediction, rows t = 1..4.
WORKED_CORRECT = np.array(
    [
        [False, True, False, False],
        [True, True, False, False],
        [False, True, False, True],
        [True, True, False, True],
    ]
)


def test_worked_example_logits_give_the_intended_pattern():
    """The hand-made logits' accumulated argmax is {wrong, right, wrong, right} for sample 0 etc."""
    sums = np.cumsum(WORKED_LOGITS, axis=0)
    assert not np.any(sums[..., 0] == sums[..., 1]), "no ties allowed in the hand-made example"
    np.testing.assert_array_equal(sums.argmax(axis=-1) == 0, WORKED_CORRECT)
    np.testing.assert_array_equal(correct_per_timestep(WORKED_LOGITS, WORKED_LABELS), WORKED_CORRECT)


def test_worked_example_single_flipping_sample():
    """Appendix A: {F, T, F, T} counts 2 for empirical AET and 2 - 3 + 4 = 3 for AET."""
    logits, labels = WORKED_LOGITS[:, :1], WORKED_LABELS[:1]
    assert empirical_aet(logits, labels) == 2.0
    assert aet(logits, labels) == 3.0


def test_worked_example_with_other_samples_matches_hand_totals():
    """Flipping + always-right + never-right + right-from-t3: AET 11/4, empirical AET 10/4."""
    # c[t] = 1, 2, 2, 3; AET = (1*1 + 2*(2-1) + 3*(2-2) + 4*(3-2) + 4*(4-3)) / 4 = 11/4.
    # Earliest correct steps 2, 1, 4 (never), 3 -> empirical AET = 10/4.
    assert aet(WORKED_LOGITS, WORKED_LABELS) == 11 / 4
    assert empirical_aet(WORKED_LOGITS, WORKED_LABELS) == 10 / 4
    np.testing.assert_array_equal(first_correct_step(WORKED_LOGITS, WORKED_LABELS), [2, 1, 4, 3])
    np.testing.assert_allclose(accuracy_per_timestep(WORKED_LOGITS, WORKED_LABELS), [0.25, 0.5, 0.5, 0.75])


# --------------------------------------------------------------------------------------------------
# Random logits against the brute-force definitions.
# --------------------------------------------------------------------------------------------------

RANDOM_SHAPES = [(T, C) for T in range(1, 7) for C in (2, 3, 10)]


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("T,C", RANDOM_SHAPES)
def test_aet_matches_brute_force_eq4(seed, T, C):
    """AET on random logits equals a literal loop over the correct sets C_t (paper eq. 4)."""
    logits, labels = _random_case(seed, T, 50, C)
    assert aet(logits, labels) == pytest.approx(_brute_aet(logits, labels), abs=1e-12)


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("T,C", RANDOM_SHAPES)
def test_empirical_aet_matches_brute_force_eq13(seed, T, C):
    """Empirical AET on random logits equals a literal per-sample earliest-correct loop (paper eq. 13)."""
    logits, labels = _random_case(seed, T, 50, C)
    assert empirical_aet(logits, labels) == pytest.approx(_brute_empirical_aet(logits, labels), abs=1e-12)


def test_random_logits_do_exercise_flips():
    """Sanity of the random cases: with T >= 3 they contain samples where AET and empirical AET differ."""
    cases = [_random_case(seed, T, 50, C) for seed in (0, 1, 2) for T, C in RANDOM_SHAPES if T >= 3]
    assert any(aet(logits, labels) != empirical_aet(logits, labels) for logits, labels in cases)


def test_aet_is_at_least_empirical_aet_on_random_logits():
    """AET >= empirical AET: a flip only adds (t' - t'') > 0 steps to eq. 4 relative to eq. 13."""
    for seed in range(5):
        for T, C in RANDOM_SHAPES:
            logits, labels = _random_case(seed, T, 50, C)
            assert aet(logits, labels) >= empirical_aet(logits, labels) - 1e-12


# --------------------------------------------------------------------------------------------------
# Assumption 3.1, never-correct samples, accuracy per timestep.
# --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("T", [1, 2, 4, 6])
def test_aet_equals_empirical_aet_under_assumption_3_1(T):
    """When every sample stays correct once correct, AET == empirical AET == mean first-correct step."""
    rng = np.random.default_rng(T)
    first = rng.integers(1, T + 2, size=60)  # T + 1 = never correct
    logits, labels = _monotone_case(first, T, C=3)
    correct = correct_per_timestep(logits, labels)
    assert np.all(correct[1:] >= correct[:-1]), "construction must satisfy Assumption 3.1"
    expected = np.minimum(first, T).mean()
    assert aet(logits, labels) == pytest.approx(expected, abs=1e-12)
    assert empirical_aet(logits, labels) == pytest.approx(expected, abs=1e-12)


@pytest.mark.parametrize("T", [1, 3, 5])
def test_never_correct_sample_counts_T(T):
    """A sample never predicted right contributes T to both AET and empirical AET."""
    logits = np.zeros((T, 1, 3))
    logits[:, 0, 2] = 1.0  # always predicts class 2
    labels = np.array([0])
    assert first_correct_step(logits, labels).tolist() == [T]
    assert aet(logits, labels) == T
    assert empirical_aet(logits, labels) == T


def test_always_correct_samples_give_aet_one():
    """Samples right from the first step give AET == empirical AET == 1."""
    logits, labels = _monotone_case(np.ones(10, dtype=int), T=4, C=2)
    assert aet(logits, labels) == 1.0
    assert empirical_aet(logits, labels) == 1.0


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_accuracy_per_timestep_matches_loop(seed):
    """accuracy_per_timestep equals a Python loop over t and samples on the accumulated argmax."""
    logits, labels = _random_case(seed, 5, 50, 4)
    T, N, _ = logits.shape
    expected = [
        sum(_running_argmax(logits, t, i) == labels[i] for i in range(N)) / N for t in range(1, T + 1)
    ]
    acc = accuracy_per_timestep(logits, labels)
    assert acc.shape == (T,)
    np.testing.assert_allclose(acc, expected, rtol=0, atol=1e-12)


# --------------------------------------------------------------------------------------------------
# accumulate
# --------------------------------------------------------------------------------------------------


def test_accumulate_sum_and_mean_values():
    """'sum' is the running sum and 'mean' the running sum divided by t (paper eq. 3)."""
    logits = np.arange(4 * 3 * 2, dtype=np.float32).reshape(4, 3, 2)  # [T=4, N=3, C=2]
    running = accumulate(logits, "sum")
    np.testing.assert_array_equal(running, np.cumsum(logits.astype(np.float64), axis=0))
    mean = accumulate(logits, "mean")
    np.testing.assert_allclose(mean, running / np.arange(1, 5)[:, None, None])
    assert running.shape == logits.shape and running.dtype == np.float64


def test_accumulate_default_mode_is_sum():
    """The default accumulation is the released code's running sum."""
    logits, _ = _random_case(0, 4, 10, 3)
    np.testing.assert_array_equal(accumulate(logits), accumulate(logits, "sum"))


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_accumulate_mean_and_sum_have_same_argmax(seed):
    """'mean' and 'sum' accumulation give the same predicted class at every step."""
    logits, _ = _random_case(seed, 6, 50, 10)
    np.testing.assert_array_equal(
        accumulate(logits, "mean").argmax(axis=-1), accumulate(logits, "sum").argmax(axis=-1)
    )


def test_accumulate_does_not_modify_input():
    """accumulate returns a new array and leaves the saved logits untouched."""
    logits, _ = _random_case(3, 4, 10, 3)
    before = logits.copy()
    accumulate(logits, "mean")
    np.testing.assert_array_equal(logits, before)


@pytest.mark.parametrize("mode", ["avg", "Sum", "", "max"])
def test_accumulate_bad_mode_raises(mode):
    """An unknown accumulation mode raises ValueError naming the allowed ones."""
    logits, _ = _random_case(0, 2, 3, 2)
    with pytest.raises(ValueError, match="'sum' or 'mean'"):
        accumulate(logits, mode)
