"""Tests for `pipeline/exits/cutoff.py`: Top-K and its calibration, entropy score, oracle, sweep rows."""

import itertools
import math

import numpy as np
import pytest

from pipeline.exits.cutoff import (
    calibrate_topk,
    cutoff_rows,
    entropy_exit,
    entropy_score,
    oracle_exit,
    oracle_steps,
    settled,
    topk_calibrated_exit,
    topk_exit,
    topk_gap,
)
from pipeline.exits.policies import EXIT_POLICIES, fixed_exit, seenn1_exit
from pipeline.exits.metrics import accumulate, correct_per_timestep, first_correct_step
from pipeline.exits.points import INTERVAL_COLUMNS
from pipeline.exits.sweep import SWEEP_COLUMNS


def _steps_from_sums(sums: np.ndarray) -> np.ndarray:
    """Per-timestep logits `[T, N, C]` whose running sums are `sums` (the inverse of a cumsum)."""
    return np.diff(sums, axis=0, prepend=np.zeros_like(sums[:1]))


def _random_case(seed: int, T: int = 4, N: int = 300, C: int = 5, drift: float = 0.4):
    """Random per-step logits with a pull towards the label, so accuracy grows with t and flips occur."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, C, size=N)
    logits = rng.normal(size=(T, N, C))
    logits[:, np.arange(N), labels] += drift
    return logits, labels


# --------------------------------------------------------------------------------------------------
# Top-K on hand-made running sums `[T=3, N=4, C=3]`; gap = top-1 - top-2 per step noted.
# --------------------------------------------------------------------------------------------------
HAND_SUMS = np.array(
    [
        # A              B                  C                 D
        [[3.0, 1.0, 0.0], [0.0, 0.0, 0.0], [1.0, 0.0, 0.0], [0.0, 5.0, 0.0]],  # gaps 2, 0, 1, 5
        [[5.0, 1.0, 0.0], [0.0, 2.0, 0.0], [0.0, 0.0, 4.0], [0.0, 6.0, 0.0]],  # gaps 4, 2, 4, 6
        [[6.0, 1.0, 0.0], [0.0, 1.5, 0.0], [0.0, 0.0, 4.5], [0.0, 7.0, 0.0]],  # gaps 5, 1.5, 4.5, 7
    ]
)
HAND_LOGITS = _steps_from_sums(HAND_SUMS)


def test_topk_gap_is_raw_top1_minus_top2_of_the_running_sum():
    np.testing.assert_allclose(topk_gap(HAND_LOGITS), [[2, 0, 1, 5], [4, 2, 4, 6], [5, 1.5, 4.5, 7]])
    # Raw logits, no softmax: negative sums keep their raw gap, and scaling the logits scales the gap.
    negative = np.array([[[-1.0, -3.0, -5.0]]])
    np.testing.assert_allclose(topk_gap(negative), [[2.0]])
    np.testing.assert_allclose(topk_gap(10 * HAND_LOGITS), 10 * topk_gap(HAND_LOGITS))


def test_topk_gap_equal_to_beta_does_not_exit_and_last_step_is_the_fallback():
    """beta = 2: A's gap is exactly 2 at t=1 (no exit) -> t=2; B never exceeds 2 -> T; C -> 2; D -> 1."""
    decision = topk_exit(HAND_LOGITS, 2.0)
    np.testing.assert_array_equal(decision.exit_step, [2, 3, 2, 1])
    np.testing.assert_array_equal(decision.prediction, [0, 1, 2, 1])


def test_topk_per_step_thresholds():
    """beta = [5, 3, inf]: D's gap 5 equals beta_1 (no exit), all stop at t=2 but B, who runs to T."""
    decision = topk_exit(HAND_LOGITS, np.array([5.0, 3.0, np.inf]))
    np.testing.assert_array_equal(decision.exit_step, [2, 3, 2, 2])
    np.testing.assert_array_equal(topk_exit(HAND_LOGITS, [np.inf] * 3).exit_step, [3, 3, 3, 3])
    np.testing.assert_array_equal(topk_exit(HAND_LOGITS, -1.0).exit_step, [1, 1, 1, 1])


@pytest.mark.parametrize("beta", [[1.0, 2.0], np.ones((3, 1)), [1.0, float("nan"), 1.0]])
def test_topk_rejects_bad_thresholds(beta):
    with pytest.raises(ValueError, match="beta"):
        topk_exit(HAND_LOGITS, beta)


def test_topk_needs_two_classes():
    with pytest.raises(ValueError, match="2 classes"):
        topk_exit(np.ones((2, 3, 1)), 0.5)


# --------------------------------------------------------------------------------------------------
# Calibration on a constructed training set: T = 3, five samples of label 0. A correct step has running
# sum [g, 0, 0], a wrong one [0, g, 0], so each step's gap g and correctness are set independently.
# --------------------------------------------------------------------------------------------------
CAL_GAPS = np.array(
    [
        [100.0, 80.0, 50.0, 20.0, 10.0],  # t=1: max 100 -> candidates 0, 1, ..., 99
        [50.0, 40.0, 100.0, 30.0, 20.0],  # t=2: the largest gap belongs to an unsettled sample
        [100.0, 90.0, 80.0, 70.0, 60.0],  # t=3: all correct
    ]
)
CAL_CORRECT = np.array(
    [
        [1, 1, 1, 0, 1],
        [1, 1, 0, 1, 1],
        [1, 1, 1, 1, 1],
    ],
    dtype=bool,
)
# settled (correct from t through T): t=1: Y Y N N Y; t=2: Y Y N Y Y; t=3: all.


def _calibration_case() -> tuple[np.ndarray, np.ndarray]:
    sums = np.zeros((3, 5, 3))
    for t, n in itertools.product(range(3), range(5)):
        sums[t, n, 0 if CAL_CORRECT[t, n] else 1] = CAL_GAPS[t, n]
    return _steps_from_sums(sums), np.zeros(5, dtype=np.int64)


def test_calibration_case_is_as_annotated():
    logits, labels = _calibration_case()
    np.testing.assert_allclose(topk_gap(logits), CAL_GAPS)
    np.testing.assert_array_equal(correct_per_timestep(logits, labels), CAL_CORRECT)
    expected = [[1, 1, 0, 0, 1], [1, 1, 0, 1, 1], [1, 1, 1, 1, 1]]
    np.testing.assert_array_equal(settled(logits, labels), expected)


@pytest.mark.parametrize(
    "epsilon, expected",
    [
        # t=1: any candidate below 50 lets the unsettled gap-50 sample exit; 50 keeps {100, 80}, settled.
        # t=2: every candidate (< max gap 100) lets the unsettled gap-100 sample exit -> none qualifies.
        (0.0, [50.0, np.inf, 0.0]),
        # needs >= 65 % settled. t=1: c < 10: 3/5; [10, 20): 2/4; [20, 50): 2/3 -> 20. t=2: c = 0: 4/5.
        (0.35, [20.0, 0.0, 0.0]),
        # needs >= 60 %: t=1, c = 0 exits all five, 3 of 5 settled: exactly 60 % qualifies.
        (0.4, [0.0, 0.0, 0.0]),
    ],
)
def test_calibrate_topk_on_constructed_case(epsilon, expected):
    logits, labels = _calibration_case()
    np.testing.assert_array_equal(calibrate_topk(logits, labels, epsilon, grid="per_step"), expected)


def test_calibrated_policy_uses_the_thresholds():
    """epsilon = 0 -> beta = [50, inf, 0]: gaps 100 and 80 stop at t=1, gap 50 (= beta) does not, t=2 is
    closed, the rest stop at T; every early exit is settled, so accuracy equals the full-T accuracy."""
    logits, labels = _calibration_case()
    decision = topk_calibrated_exit(logits, logits, labels, epsilon=0.0, grid="per_step")
    np.testing.assert_array_equal(decision.exit_step, [1, 1, 3, 3, 3])
    assert decision.accuracy(labels) == 1.0
    assert EXIT_POLICIES.get("topk_calibrated") is topk_calibrated_exit


def test_calibration_candidates_are_an_even_grid_below_the_max_gap():
    """Fewer candidates -> a coarser grid: with 4 candidates at t=1 they are 0, 25, 50, 75 -> beta 50."""
    logits, labels = _calibration_case()
    assert calibrate_topk(logits, labels, 0.0, n_candidates=4, grid="per_step")[0] == 50.0
    assert calibrate_topk(logits, labels, 0.0, n_candidates=3, grid="per_step")[0] == pytest.approx(200 / 3)


def test_calibration_where_nothing_can_exit_is_inf():
    """All gaps 0 at a step: no candidate lets a sample exit, so the step is closed."""
    logits = np.zeros((2, 4, 3))
    logits[1, :, 0] = 1.0
    betas = calibrate_topk(logits, np.zeros(4, dtype=np.int64), 0.0, grid="per_step")
    assert betas[0] == np.inf and betas[1] == 0.0


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_epsilon_zero_calibration_keeps_full_t_accuracy_on_its_own_training_set(seed):
    """With epsilon = 0 every sample exiting early on the calibration set is settled there, so on that
    set the calibrated policy is exactly as accurate as the full-T SNN, and no later than T."""
    logits, labels = _random_case(seed)
    decision = topk_calibrated_exit(logits, logits, labels, epsilon=0.0, grid="per_step")
    ok = settled(logits, labels)
    early = decision.exit_step < logits.shape[0]
    assert ok[decision.exit_step[early] - 1, np.flatnonzero(early)].all()
    assert decision.accuracy(labels) == fixed_exit(logits, logits.shape[0]).accuracy(labels)


def _snncutoff_case(d_first: float = 0.45) -> tuple[np.ndarray, np.ndarray]:
    """The conformance case worked by hand from SNNCutoff's code: T = 2, four samples of class 0, two
    classes, per-step logits whose running sums are
        a: [3.25, 0] then [8.05, 0]   (gaps 3.25, 8.05; right, right: settled at 1 and 2)
        b: [0, 0.95] then [4.05, 0]   (gaps 0.95, 4.05; wrong, right: settled at 2)
        c: [2.05, 0] then [0, 6.05]   (gaps 2.05, 6.05; right, wrong: never settled)
        d: [0, d1]   then [0, 10]     (gaps d1, 10; wrong, wrong)."""
    y1 = np.array([[3.25, 0.0], [0.0, 0.95], [2.05, 0.0], [0.0, d_first]])
    y2 = np.array([[8.05, 0.0], [4.05, 0.0], [0.0, 6.05], [0.0, 10.0]])
    return np.stack([y1, y2 - y1]), np.zeros(4, dtype=np.int64)


def test_snncutoff_calibration_by_hand():
    """One grid for every step: the largest gap over both steps is 10, so the candidates are 0, 0.1, ...,
    9.9. At t = 1 with epsilon 0: candidates up to 2.0 let c (unsettled) exit; 2.1 lets only a exit ->
    beta_1 = 2.1. With epsilon 0.5: at 1.0, a and c exit, 1 of 2 settled -> beta_1 = 1.0. At t = 2 with
    epsilon 0, d (gap 10, unsettled) exits below every candidate, so the last one is used: 9.9; with
    epsilon 0.5 all four exit at candidate 0 and 2 of 4 are settled: 0. The per-step grid of this
    project's earlier reading gives 2.08 (= 64 x 3.25 / 100) and 0.975 at t = 1, +inf (epsilon 0) at t = 2."""
    logits, labels = _snncutoff_case()
    np.testing.assert_allclose(calibrate_topk(logits, labels, 0.0), [2.1, 9.9])
    np.testing.assert_allclose(calibrate_topk(logits, labels, 0.5), [1.0, 0.0])
    np.testing.assert_allclose(calibrate_topk(logits, labels, 0.0, grid="per_step"), [2.08, np.inf])
    np.testing.assert_allclose(calibrate_topk(logits, labels, 0.5, grid="per_step"), [0.975, 0.0])


def test_snncutoff_calibration_falls_back_to_the_last_candidate():
    """d's t = 1 gap 4.45 is the largest at t = 1 and unsettled: every candidate below it lets d exit,
    above it nobody exits (that never qualifies), so SNNCutoff falls back to its last candidate 9.9 (the
    per-step grid: +inf). A test input with gap 12 at t = 1 therefore stops at t = 1 (per-step: at T)."""
    logits, labels = _snncutoff_case(d_first=4.45)
    betas = calibrate_topk(logits, labels, 0.0)
    assert betas[0] == pytest.approx(9.9)
    assert calibrate_topk(logits, labels, 0.0, grid="per_step")[0] == np.inf
    test = np.array([[[12.0, 0.0]], [[1.0, 0.0]]])  # [T, 1, C]
    assert topk_calibrated_exit(test, logits, labels, 0.0).exit_step.tolist() == [1]
    assert topk_calibrated_exit(test, logits, labels, 0.0, grid="per_step").exit_step.tolist() == [2]


@pytest.mark.parametrize("epsilon", [-0.1, 1.0])
def test_calibration_rejects_bad_epsilon(epsilon):
    logits, labels = _calibration_case()
    with pytest.raises(ValueError, match="epsilon"):
        calibrate_topk(logits, labels, epsilon)


# --------------------------------------------------------------------------------------------------
# Entropy score.
# --------------------------------------------------------------------------------------------------


def _score(z: list[float]) -> float:
    """1 - H / log C of softmax(z), computed independently with math."""
    m = max(z)
    e = [math.exp(v - m) for v in z]
    p = [v / sum(e) for v in e]
    return 1 - (-sum(q * math.log(q) for q in p if q > 0)) / math.log(len(z))


def test_entropy_score_matches_a_hand_computation():
    running = np.array([[[0.0, 0.0, 0.0], [2.0, 0.0, 0.0], [1.0, 2.0, 3.0], [800.0, 0.0, 0.0]]])
    expected = [[_score(list(z)) for z in running[0]]]
    np.testing.assert_allclose(entropy_score(running), expected, atol=1e-12)
    assert entropy_score(running)[0, 0] == pytest.approx(0.0, abs=1e-12)  # uniform: no information
    assert entropy_score(running)[0, 3] == pytest.approx(1.0)  # one-hot, and no overflow
    assert entropy_score(running, temperature=8.0)[0, 1] < entropy_score(running)[0, 1]


def test_entropy_exit_as_released_by_hand():
    """C = 3, T = 3, per-step logits [1, 0, 0]: running sums [a, 0, 0] for a = 1, 2, 3. Worked by hand,
    1 - H / ln 3 = 0.112218, 0.394170, 0.666312. With threshold 0.3 and no temperature (the released rule,
    for directly trained and converted SNNs alike) the exit is at step 2; with the temperature 8 that
    belongs to SEENN-I's confidence of converted nets, the scores are 0.0016, 0.0066, 0.0152: exit at T."""
    logits = np.tile(np.array([1.0, 0.0, 0.0]), (3, 1, 1))  # [T, 1, C]
    scores = entropy_score(accumulate(logits))[:, 0]
    np.testing.assert_allclose(scores, [0.112218, 0.394170, 0.666312], atol=1e-6)
    assert entropy_exit(logits, 0.3).exit_step.tolist() == [2]
    assert entropy_exit(logits, 0.3, temperature=8.0).exit_step.tolist() == [3]
    assert entropy_exit(logits, 0.3, accumulate_mode="mean").exit_step.tolist() == [
        3
    ]  # paper's mean: 0.112 each


def test_entropy_exit_is_strict_and_falls_back_to_t():
    running = accumulate(HAND_LOGITS)
    score = entropy_score(running)  # [T, N]
    # At A's own t=1 score the rule must not stop A at t=1 (strict), but later (higher score) it does.
    decision = entropy_exit(HAND_LOGITS, float(score[0, 0]))
    assert decision.exit_step[0] == 2
    assert decision.exit_step[1] == 3  # B: sums 0 / 2 / 1.5 never beat A's t=1 score
    assert np.all(entropy_exit(HAND_LOGITS, 0.999999).exit_step == 3)
    # Threshold 0: only B's uniform t=1 output (score exactly 0) does not stop.
    np.testing.assert_array_equal(entropy_exit(HAND_LOGITS, 0.0).exit_step, [1, 2, 1, 1])


@pytest.mark.parametrize("threshold", [-0.1, 1.0, float("nan")])
def test_entropy_rejects_bad_threshold(threshold):
    with pytest.raises(ValueError, match="threshold"):
        entropy_exit(HAND_LOGITS, threshold)


# --------------------------------------------------------------------------------------------------
# Oracle cutoff.
# --------------------------------------------------------------------------------------------------


def test_oracle_on_hand_made_patterns():
    """Correctness over t = 1..3 -> oracle step: NYY 2, YNY 3, YYN 3 (wrong at T), YYY 1, NNN 3."""
    patterns = np.array([[0, 1, 1], [1, 0, 1], [1, 1, 0], [1, 1, 1], [0, 0, 0]], dtype=bool).T  # [T, N]
    sums = np.where(patterns[..., None], [5.0, 0.0], [0.0, 5.0])  # label 0 everywhere
    logits, labels = _steps_from_sums(sums), np.zeros(5, dtype=np.int64)
    np.testing.assert_array_equal(oracle_steps(logits, labels), [2, 3, 3, 1, 3])
    decision = oracle_exit(logits, labels)
    np.testing.assert_array_equal(decision.exit_step, [2, 3, 3, 1, 3])
    assert decision.accuracy(labels) == pytest.approx(3 / 5)  # = full-T accuracy


def _decisions(logits: np.ndarray, labels: np.ndarray):
    """The policies' decisions on one case, over their parameter grids."""
    T = logits.shape[0]
    yield from (fixed_exit(logits, t) for t in range(1, T + 1))
    yield from (seenn1_exit(logits, a) for a in (0.3, 0.5, 0.7, 0.9))
    yield from (topk_exit(logits, b) for b in (0.5, 1.0, 2.0, 4.0))
    yield from (entropy_exit(logits, h) for h in (0.05, 0.2, 0.5))
    yield from (topk_calibrated_exit(logits, logits, labels, e) for e in (0.0, 0.05))


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_oracle_is_the_earliest_safe_cutoff(seed):
    """What the oracle guarantees, on random logits: its accuracy is the full-T accuracy; every input is
    no later than under any decision that stops it at a settled step; inputs wrong at T run to T; and it
    is never earlier than the first correct step (empirical AET)."""
    logits, labels = _random_case(seed)
    T = logits.shape[0]
    oracle = oracle_exit(logits, labels)
    assert oracle.accuracy(labels) == fixed_exit(logits, T).accuracy(labels)
    ok = settled(logits, labels)
    wrong_at_t = ~correct_per_timestep(logits, labels)[-1]
    assert np.all(oracle.exit_step[wrong_at_t] == T)
    assert np.all(oracle.exit_step >= first_correct_step(logits, labels))
    columns = np.arange(len(labels))
    for decision in _decisions(logits, labels):
        safe = ok[decision.exit_step - 1, columns]
        assert np.all(oracle.exit_step[safe] <= decision.exit_step[safe])


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_oracle_minimises_average_steps_over_all_safe_decisions(seed):
    """Exhaustively over every assignment of exit steps (T = 3, N = 4): among decisions that stop
    full-T-correct inputs at settled steps and run full-T-wrong ones to T (so they keep the full-T
    accuracy, input by input), the oracle is the pointwise and hence average earliest."""
    logits, labels = _random_case(seed, T=3, N=4, C=3, drift=0.8)
    T, N = 3, 4
    ok = settled(logits, labels)
    right_at_t = correct_per_timestep(logits, labels)[-1]
    oracle = oracle_steps(logits, labels)
    safe_count = 0
    for steps in itertools.product(range(1, T + 1), repeat=N):
        steps = np.array(steps)
        if not all((ok[s - 1, n] if right_at_t[n] else s == T) for n, s in enumerate(steps)):
            continue
        safe_count += 1
        assert np.all(oracle <= steps)
    assert safe_count >= 1  # the all-T decision is always safe


def test_a_label_free_policy_can_beat_the_oracle_on_inputs_right_early_and_wrong_at_t():
    """The oracle is no upper bound on accuracy: an input right at t=1 and wrong at T counts as wrong for
    the oracle (at T steps), while stopping it at t=1 is both cheaper and right."""
    sums = np.array([[[5.0, 0.0]], [[0.0, 6.0]]])  # right at t=1, wrong at t=2 (label 0)
    logits, labels = _steps_from_sums(sums), np.array([0])
    oracle, early = oracle_exit(logits, labels), fixed_exit(logits, 1)
    assert (oracle.accuracy(labels), oracle.avg_timesteps()) == (0.0, 2.0)
    assert (early.accuracy(labels), early.avg_timesteps()) == (1.0, 1.0)


# --------------------------------------------------------------------------------------------------
# Registry and sweep rows.
# --------------------------------------------------------------------------------------------------


def test_policies_are_registered():
    for name, fn in [
        ("topk", topk_exit),
        ("topk_calibrated", topk_calibrated_exit),
        ("entropy", entropy_exit),
        ("oracle", oracle_exit),
    ]:
        assert EXIT_POLICIES.get(name) is fn


def test_cutoff_rows():
    test_logits, test_labels = _random_case(0, N=200)
    train_logits, train_labels = _random_case(1, N=300)
    rows = cutoff_rows(
        test_logits,
        test_labels,
        train_logits,
        train_labels,
        topk_betas=[2.0, 0.5, 2.0],
        epsilons=[0.01, 0.0],
        entropy_thresholds=[0.3, 0.1],
    )
    assert list(rows.columns) == [*SWEEP_COLUMNS, *INTERVAL_COLUMNS]
    assert (rows["n"] == 200).all()
    assert (rows["accuracy_low"] <= rows["accuracy"]).all() and (
        rows["accuracy"] <= rows["accuracy_high"]
    ).all()
    assert (rows["avg_timesteps_low"] <= rows["avg_timesteps"]).all()
    assert list(rows["policy"]) == ["topk"] * 2 + ["topk_calibrated"] * 2 + ["entropy"] * 2 + ["oracle"]
    assert list(rows["param"]) == [0.5, 2.0, 0.0, 0.01, 0.1, 0.3, 0.0]
    assert rows["accuracy"].between(0, 1).all()
    assert rows["avg_timesteps"].between(1, test_logits.shape[0]).all()
    by = rows.set_index(["policy", "param"])
    d = topk_calibrated_exit(test_logits, train_logits, train_labels, 0.01)
    assert by.loc[("topk_calibrated", 0.01), "accuracy"] == d.accuracy(test_labels)
    assert by.loc[("topk_calibrated", 0.01), "avg_timesteps"] == d.avg_timesteps()
    assert by.loc[("oracle", 0.0), "accuracy"] == fixed_exit(test_logits, 4).accuracy(test_labels)
    assert by.loc[("entropy", 0.3), "avg_timesteps"] == entropy_exit(test_logits, 0.3).avg_timesteps()
    # Without training outputs the calibrated rows are left out.
    no_train = cutoff_rows(test_logits, test_labels, None, None, [1.0], [0.0], [0.2])
    assert list(no_train["policy"]) == ["topk", "entropy", "oracle"]
