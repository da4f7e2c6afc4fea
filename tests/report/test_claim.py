"""The paper's claim at <= T/2 average timesteps (pipeline/report/claim.py) on the hand-made run of
test_exit_policies: T = 4, so the budget is 2 steps; points chosen on validation, tested on 20 inputs."""

import math

import pandas as pd
import pytest

from pipeline.report.claim import COLUMNS, best_within, claim_sentences, half_budget
from tests.report.test_exit_policies import _row, _run


def test_points_within_half_t_are_chosen_on_validation_and_tested_by_mcnemar():
    """Within 2 validation steps: fixed T = 2 (80 %), SEENN-I alpha 0.99 (90 %, exactly 2.0 steps), Top-K
    beta 2 (90 %, 1.8), entropy 0.5 (70 %, the only one). On test: fixed T = 2 is wrong on inputs 0 and 1
    (b 2, c 0, p = 2 / 2^2 = 0.5); SEENN-I b 1, c 1 (p 1); Top-K b 4, c 0 (p 0.125); entropy equals full T
    (b 0, c 0, p 1). Holm over the four: 0.125 * 4 = 0.5, then 0.5 * 3 -> 1. Nothing is below full T."""
    tidy = half_budget([_run()])
    assert list(tidy.columns) == COLUMNS
    assert "oracle" not in set(tidy["policy"])  # it reads the labels: no operating point to choose
    assert set(tidy["budget_timesteps"]) == {2.0}
    fixed, seenn1, topk, entropy = (_row(tidy, p) for p in ("fixed", "seenn1", "topk", "entropy"))
    assert (fixed["param"], fixed["mcnemar_b"], fixed["mcnemar_c"]) == (2.0, 2, 0)
    assert fixed["mcnemar_p"] == pytest.approx(0.5)
    assert (seenn1["param"], seenn1["val_accuracy"], seenn1["mcnemar_p"]) == (0.99, 90.0, 1.0)
    assert (topk["param"], topk["mcnemar_b"], topk["mcnemar_c"]) == (2.0, 4, 0)
    assert topk["mcnemar_p_holm"] == pytest.approx(0.5) and fixed["mcnemar_p_holm"] == 1.0
    assert (entropy["param"], entropy["mcnemar_b"], entropy["mcnemar_c"]) == (0.5, 0, 0)
    assert tidy["below_full"].tolist() == [False] * 4
    # paired t interval of fixed T = 2's difference: d = -1 on 2 of 20 inputs, mean -0.1, s_d =
    # sqrt((2 * 0.81 + 18 * 0.01) / 19) = 0.30779, half width t(0.975, 19) 2.09302 * s_d / sqrt(20) = 0.14405
    assert (fixed["delta_low"], fixed["delta_high"]) == pytest.approx((-24.405, 4.405), abs=1e-3)
    assert (entropy["delta_low"], entropy["delta_high"]) == (0.0, 0.0)  # no discordant input: exact


def test_best_within_prefers_accuracy_then_fewer_steps():
    points = pd.DataFrame(
        {
            "param": [1.0, 2.0, 3.0, 4.0],
            "accuracy": [0.8, 0.9, 0.9, 0.95],
            "avg_timesteps": [1.0, 1.9, 1.5, 2.5],
        }
    )
    assert best_within(points, 2.0)["param"] == 3.0  # 90 % at 1.5 steps beats 90 % at 1.9; 95 % is over
    assert best_within(points, 0.5) is None


def test_a_run_without_validation_chooses_nothing():
    tidy = half_budget([_run(validation=False)])
    assert set(tidy["status"]) == {"no validation split"}
    assert tidy["mcnemar_p"].isna().all()


def test_sentences_say_below_or_not_with_counts_and_p():
    base = {c: math.nan for c in COLUMNS}
    base.update(run="r", model="M", method="direct", T=4, budget_timesteps=2.0, n_val=10, n_test=1000,
                full_accuracy=90.0, status="reached", accuracy_low=80.0, accuracy_high=90.0)  # fmt: skip
    below = {**base, "policy": "seenn1", "policy_label": "SEENN-I", "param": 0.9, "accuracy": 88.0,
             "avg_timesteps": 1.5, "delta_accuracy_vs_full": -2.0, "delta_low": -3.2, "delta_high": -0.8,
             "mcnemar_b": 30, "mcnemar_c": 10, "mcnemar_p": 0.002, "mcnemar_p_holm": 0.004, "below_full": True}  # fmt: skip
    kept = {**below, "policy": "topk", "policy_label": "Top-K", "mcnemar_b": 12, "mcnemar_c": 10,
            "mcnemar_p": 0.83, "mcnemar_p_holm": 0.83, "below_full": False}  # fmt: skip
    text = claim_sentences(pd.DataFrame([below, kept], columns=COLUMNS))
    assert "SEENN-I (0.9): 1.50 average timesteps" in text
    counts = "(b 30, c 10; McNemar p = 0.002, Holm-adjusted p = 0.004): significantly below full T."
    assert f"Δ -2.00 points [-3.20, -0.80] {counts}" in text
    assert "Top-K (0.9)" in text and "not significantly below full T." in text
    assert text.endswith("at ≤ T/2: Top-K.")
    # the summary first: Top-K is not below full T, so one network of one keeps it; both drops are -2.00
    # points, the first (SEENN-I) is named
    assert text.startswith("**At ≤ T/2 average timesteps, some exit rule keeps the full-T accuracy on 1 of 1")
    assert "** Smallest drop: SEENN-I on `r`, -2.00 points [-3.20, -0.80] at 1.50 of 4 timesteps" in text
