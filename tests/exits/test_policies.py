"""Tests for `pipeline/exits/policies.py`: fixed exit, SEENN-I (paper eq. 5), ExitDecision and the policy
registry."""

import math

import numpy as np
import pytest

from pipeline.exits.policies import (
    EXIT_POLICIES,
    ExitDecision,
    first_true_step,
    fixed_exit,
    seenn1_exit,
    softmax_confidence,
)
from pipeline.exits.metrics import accumulate, accuracy_per_timestep


def _random_case(seed: int, T: int = 4, N: int = 200, C: int = 10) -> tuple[np.ndarray, np.ndarray]:
    """Random float32 per-timestep logits `[T, N, C]` and labels `[N]`."""
    rng = np.random.default_rng(seed)
    logits = rng.normal(size=(T, N, C)).astype(np.float32)
    labels = rng.integers(0, C, size=N)
    return logits, labels


def _steps_from_sums(sums: np.ndarray) -> np.ndarray:
    """Per-timestep logits `[T, N, C]` whose running sums are `sums` (the inverse of a cumsum)."""
    return np.diff(sums, axis=0, prepend=np.zeros_like(sums[:1]))


def _max_softmax(z: list[float]) -> float:
    """Max softmax probability of one score vector, computed independently with math.exp."""
    m = max(z)
    e = [math.exp(v - m) for v in z]
    return max(e) / sum(e)


# --------------------------------------------------------------------------------------------------
# SEENN-I on hand-made logits.
# --------------------------------------------------------------------------------------------------

# Running sums `[T=4, N=4, C=3]`; confidences (max softmax, temperature 1) noted per step.
HAND_SUMS = np.array(
    [
        # A: confident at t=1    B: confident at t=3    C: never confident     D: confident at t=2, new class
        [[5.0, 0.0, 0.0], [0.0, 0.0, 0.0], [1.0, 0.0, 0.0], [1.0, 0.0, 0.0]],  # .987 .333 .576 .576
        [[6.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 1.0, 0.0], [1.0, 0.0, 10.0]],  # .995 .576 .576 .9998
        [[7.0, 0.0, 0.0], [0.0, 6.0, 0.0], [0.0, 0.0, 1.0], [1.0, 0.0, 11.0]],  # .998 .995 .576 .9999
        [[8.0, 0.0, 0.0], [0.0, 7.0, 0.0], [1.0, 0.0, 2.0], [1.0, 0.0, 12.0]],  # .999 .998 .665 .99998
    ]
)
HAND_LOGITS = _steps_from_sums(HAND_SUMS)


def test_hand_made_confidences_are_as_annotated():
    """softmax_confidence of the hand-made running sums equals an independent math.exp computation."""
    conf = softmax_confidence(accumulate(HAND_LOGITS))
    expected = [[_max_softmax(list(HAND_SUMS[t, i])) for i in range(4)] for t in range(4)]
    np.testing.assert_allclose(conf, expected, rtol=1e-12)


def test_seenn1_exits_at_first_confident_step():
    """alpha = 0.9: A exits at 1, B at 3, C never (falls back to T=4), D at 2 with D's new argmax."""
    decision = seenn1_exit(HAND_LOGITS, alpha=0.9)
    np.testing.assert_array_equal(decision.exit_step, [1, 3, 4, 2])
    np.testing.assert_array_equal(decision.prediction, [0, 1, 2, 2])
    assert decision.exit_step.dtype == np.int64 and decision.prediction.dtype == np.int64


def test_seenn1_lower_alpha_exits_earlier_on_hand_made_logits():
    """alpha = 0.5: every sample whose confidence passes 0.5 earlier now stops earlier."""
    decision = seenn1_exit(HAND_LOGITS, alpha=0.5)
    # B: 1/3 at t=1, 0.576 at t=2; C and D: 0.576 at t=1.
    np.testing.assert_array_equal(decision.exit_step, [1, 2, 1, 1])
    np.testing.assert_array_equal(decision.prediction, [0, 1, 0, 0])


def test_seenn1_confidence_equal_to_alpha_does_not_exit():
    """Strict >: two-class sums [0, 0] give softmax exactly 0.5, which does not pass alpha = 0.5."""
    sums = np.array([[[0.0, 0.0]], [[3.0, 3.0]], [[4.0, 3.0]]])  # [T=3, N=1, C=2]; conf 0.5, 0.5, 0.73
    logits = _steps_from_sums(sums)
    conf = softmax_confidence(accumulate(logits))
    assert conf[0, 0] == 0.5 and conf[1, 0] == 0.5  # exactly representable, no rounding
    assert seenn1_exit(logits, alpha=0.5).exit_step.tolist() == [3]
    # Just below the tie, the first step already passes.
    assert seenn1_exit(logits, alpha=np.nextafter(0.5, 0.0)).exit_step.tolist() == [1]


def test_seenn1_last_step_fallback_predicts_full_sum_argmax():
    """A sample never confident stops at T and predicts the argmax of the sum over all T steps."""
    sums = np.array([[[2.0, 0.0, 0.0]], [[2.0, 3.0, 0.0]], [[2.0, 3.0, 3.5]]])  # [T=3, N=1, C=3]
    logits = _steps_from_sums(sums)
    assert softmax_confidence(accumulate(logits)).max() < 0.99
    decision = seenn1_exit(logits, alpha=0.99)
    assert decision.exit_step.tolist() == [3]
    assert decision.prediction.tolist() == [2]
    assert decision.prediction.tolist() == [int(logits.sum(axis=0).argmax(axis=-1)[0])]


def test_seenn1_fallback_applies_even_when_last_step_is_not_confident():
    """With alpha just below 1 every sample stops at T, whatever its confidence."""
    logits, _ = _random_case(0, T=5)
    decision = seenn1_exit(logits, alpha=1.0 - 1e-12)
    assert np.all(decision.exit_step == 5)


def test_seenn1_temperature_divides_running_sum():
    """Temperature 8 (converted SNNs) scores sum / 8: a step-1 exit at T=1 moves to step 2."""
    sums = np.array([[[5.0, 0.0]], [[20.0, 0.0]], [[40.0, 0.0]]])  # [T=3, N=1, C=2]
    logits = _steps_from_sums(sums)
    # temperature 1: sigmoid(5) = .9933 > .9 at t=1; temperature 8: sigmoid(.625) = .651, sigmoid(2.5) = .924.
    assert seenn1_exit(logits, alpha=0.9).exit_step.tolist() == [1]
    assert seenn1_exit(logits, alpha=0.9, temperature=8.0).exit_step.tolist() == [2]
    conf = softmax_confidence(accumulate(logits), temperature=8.0)[:, 0]
    np.testing.assert_allclose(conf, [1 / (1 + math.exp(-s / 8)) for s in (5.0, 20.0, 40.0)], rtol=1e-12)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_seenn1_temperature_equals_prescaled_logits(seed):
    """seenn1(logits, temperature=8) equals seenn1(logits / 8) and makes exits no earlier."""
    logits, _ = _random_case(seed)
    hot = seenn1_exit(logits, alpha=0.6, temperature=8.0)
    scaled = seenn1_exit(logits.astype(np.float64) / 8.0, alpha=0.6)
    np.testing.assert_array_equal(hot.exit_step, scaled.exit_step)
    np.testing.assert_array_equal(hot.prediction, scaled.prediction)
    assert np.all(hot.exit_step >= seenn1_exit(logits, alpha=0.6).exit_step)


def test_seenn1_mean_mode_lowers_confidence_keeps_prediction():
    """'mean' (eq. 3) scores sum / t: same class at each step, lower confidence, so a later exit here."""
    sums = np.array([[[2.0, 0.0]], [[4.0, 0.0]], [[6.0, 0.0]]])  # mean stays [2, 0]: conf .881 < .95
    logits = _steps_from_sums(sums)
    conf_sum = softmax_confidence(accumulate(logits, "sum"))[:, 0]
    conf_mean = softmax_confidence(accumulate(logits, "mean"))[:, 0]
    assert conf_sum[0] == conf_mean[0] and np.all(conf_mean[1:] < conf_sum[1:])
    by_sum = seenn1_exit(logits, alpha=0.95)
    by_mean = seenn1_exit(logits, alpha=0.95, accumulate_mode="mean")
    assert by_sum.exit_step.tolist() == [2]  # sigmoid(4) = .982
    assert by_mean.exit_step.tolist() == [3]  # fallback
    assert by_sum.prediction.tolist() == by_mean.prediction.tolist() == [0]


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_seenn1_prediction_is_sum_argmax_at_exit_step_in_both_modes(seed):
    """Whatever the mode, the prediction is the argmax of the running sum at the sample's exit step."""
    logits, _ = _random_case(seed)
    running = np.cumsum(logits.astype(np.float64), axis=0)
    for mode in ("sum", "mean"):
        decision = seenn1_exit(logits, alpha=0.5, accumulate_mode=mode)
        expected = running[decision.exit_step - 1, np.arange(logits.shape[1])].argmax(axis=-1)
        np.testing.assert_array_equal(decision.prediction, expected)
    conf_sum = softmax_confidence(accumulate(logits, "sum"))
    conf_mean = softmax_confidence(accumulate(logits, "mean"))
    assert np.all(conf_mean <= conf_sum + 1e-12)


def test_seenn1_bad_accumulate_mode_raises():
    """An unknown accumulate mode is rejected by SEENN-I too."""
    with pytest.raises(ValueError):
        seenn1_exit(HAND_LOGITS, alpha=0.9, accumulate_mode="median")


# --------------------------------------------------------------------------------------------------
# SEENN-I on random logits: monotone in alpha, limits.
# --------------------------------------------------------------------------------------------------

ALPHAS = [0.05, 0.1, 0.3, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 0.99, 0.999]


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("temperature", [1.0, 8.0])
def test_seenn1_timesteps_non_decreasing_in_alpha(seed, temperature):
    """Raising alpha never makes any sample (hence the average) exit earlier."""
    logits, _ = _random_case(seed)
    decisions = [seenn1_exit(logits, alpha=a, temperature=temperature) for a in ALPHAS]
    averages = [d.avg_timesteps() for d in decisions]
    assert all(a <= b for a, b in zip(averages, averages[1:])), averages
    for lo, hi in zip(decisions, decisions[1:]):
        assert np.all(lo.exit_step <= hi.exit_step)
    assert averages[0] < averages[-1], "the grid should actually move the exits"


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_seenn1_alpha_to_one_equals_fixed_T(seed):
    """alpha -> 1: every sample runs T steps, so accuracy equals the fixed-T accuracy."""
    logits, labels = _random_case(seed, T=4)
    decision = seenn1_exit(logits, alpha=1.0 - 1e-12)
    assert decision.avg_timesteps() == 4.0
    assert decision.accuracy(labels) == accuracy_per_timestep(logits, labels)[-1]
    assert decision.accuracy(labels) == fixed_exit(logits, 4).accuracy(labels)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_seenn1_alpha_to_zero_equals_fixed_one(seed):
    """alpha below 1/C: every sample exits at step 1, so accuracy equals the 1-step accuracy."""
    logits, labels = _random_case(seed, T=4, C=10)
    decision = seenn1_exit(logits, alpha=0.05)
    assert decision.avg_timesteps() == 1.0
    assert decision.accuracy(labels) == accuracy_per_timestep(logits, labels)[0]


# --------------------------------------------------------------------------------------------------
# Fixed exit and argument checks.
# --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("seed", [0, 1])
def test_fixed_exit_matches_accuracy_per_timestep(seed):
    """fixed_exit(T') has accuracy accuracy_per_timestep[T'-1] and average timesteps T' for every T'."""
    logits, labels = _random_case(seed, T=6)
    per_t = accuracy_per_timestep(logits, labels)
    for t in range(1, 7):
        decision = fixed_exit(logits, t)
        assert decision.accuracy(labels) == pytest.approx(per_t[t - 1], abs=1e-12)
        assert decision.avg_timesteps() == t
        np.testing.assert_array_equal(decision.exit_step, np.full(logits.shape[1], t))


@pytest.mark.parametrize("timesteps", [0, -1, 5, 100])
def test_fixed_exit_out_of_range_raises(timesteps):
    """fixed_exit rejects timesteps outside 1..T with ValueError."""
    logits, _ = _random_case(0, T=4, N=5)
    with pytest.raises(ValueError, match="timesteps"):
        fixed_exit(logits, timesteps)


@pytest.mark.parametrize("alpha", [0.0, 1.0, -0.1, 1.5, float("nan")])
def test_seenn1_alpha_outside_open_interval_raises(alpha):
    """seenn1_exit rejects alpha outside (0, 1) with ValueError."""
    logits, _ = _random_case(0, T=4, N=5)
    with pytest.raises(ValueError, match="alpha"):
        seenn1_exit(logits, alpha)


def test_first_true_step_with_fallback():
    """first_true_step: first 1-based True per column, T where a column has none; input not modified."""
    stop = np.array([[False, True, False], [True, True, False], [False, False, False]])
    before = stop.copy()
    assert first_true_step(stop).tolist() == [2, 1, 3]
    np.testing.assert_array_equal(stop, before)


# --------------------------------------------------------------------------------------------------
# ExitDecision and the registry.
# --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_exit_shares_sum_to_one_and_match_bincount(seed):
    """exit_shares(T) is the normalised bincount of the 1-based exit steps over t = 1..T."""
    logits, _ = _random_case(seed, T=5)
    decision = seenn1_exit(logits, alpha=0.5)
    shares = decision.exit_shares(5)
    assert shares.shape == (5,)
    assert shares.sum() == pytest.approx(1.0)
    expected = np.array([np.sum(decision.exit_step == t) for t in range(1, 6)]) / len(decision.exit_step)
    np.testing.assert_allclose(shares, expected)
    np.testing.assert_allclose(shares, np.bincount(decision.exit_step, minlength=6)[1:] / logits.shape[1])


def test_exit_shares_hand_made():
    """Exit steps [1, 1, 3, 4] give shares [.5, 0, .25, .25] with zeros for unused steps."""
    decision = ExitDecision(exit_step=np.array([1, 1, 3, 4]), prediction=np.zeros(4, dtype=np.int64))
    np.testing.assert_array_equal(decision.exit_shares(4), [0.5, 0.0, 0.25, 0.25])
    assert decision.avg_timesteps() == 2.25
    assert decision.accuracy(np.array([0, 1, 0, 1])) == 0.5


def test_registry_knows_fixed_and_seenn1():
    """EXIT_POLICIES maps 'fixed' and 'seenn1' to their functions."""
    assert "fixed" in EXIT_POLICIES and "seenn1" in EXIT_POLICIES
    assert {"fixed", "seenn1"} <= set(EXIT_POLICIES.names())
    assert EXIT_POLICIES.get("fixed") is fixed_exit
    assert EXIT_POLICIES.get("seenn1") is seenn1_exit


def test_registry_unknown_policy_raises_keyerror_listing_known():
    """An unknown policy name raises KeyError whose message lists the known names."""
    with pytest.raises(KeyError) as excinfo:
        EXIT_POLICIES.get("seenn3")
    message = str(excinfo.value)
    assert "seenn3" in message
    for name in ("fixed", "seenn1"):
        assert name in message
