"""Tests for `pipeline/report/exit_policies*.py`: operating points chosen on validation and tested once,
McNemar and paired t comparisons with Holm's adjustment, the markdown and the figure."""

import math
import re

import numpy as np
import pandas as pd
import pytest
from matplotlib.figure import Figure

from pipeline.exits.points import Decisions
from pipeline.exits.stats import wilson_interval
from pipeline.report.exit_policies import (
    NO_VALIDATION,
    TIDY_COLUMNS,
    comparison,
    matched_point,
    usable_drops,
)
from pipeline.report.exit_policies_figure import exit_policies_figure, policy_curves
from pipeline.report.exit_policies_markdown import to_markdown
from pipeline.report.results import RunResult, load_runs

# The fake run folders are shared with the table tests (pytest puts tests/ on sys.path).
from tests.report.test_tables import write_fake_runs

T, N_TEST, N_VAL = 4, 20, 10
FULL = np.array([1] * 18 + [0] * 2, dtype=bool)  # full T right on 18 of 20 test inputs


def _flip(wrong: tuple[int, ...] = (), right: tuple[int, ...] = ()) -> np.ndarray:
    correct = FULL.copy()
    correct[list(wrong)] = False
    correct[list(right)] = True
    return correct


# (policy, param) -> (test exit steps [20], test correctness [20], validation accuracy, validation avg steps)
HAND = {
    ("fixed", 1.0): (np.full(N_TEST, 1), _flip(wrong=tuple(range(6))), 0.6, 1.0),
    ("fixed", 2.0): (np.full(N_TEST, 2), _flip(wrong=(0, 1)), 0.8, 2.0),
    ("fixed", 3.0): (np.full(N_TEST, 3), _flip(wrong=(17,)), 0.9, 3.0),
    ("fixed", 4.0): (np.full(N_TEST, 4), FULL, 0.9, 4.0),
    # SEENN-I: alpha 0.9 reaches the full-T TEST accuracy at 1.4 steps, but not the validation one
    ("seenn1", 0.9): (np.array([1] * 12 + [2] * 8), FULL, 0.8, 1.5),
    ("seenn1", 0.99): (np.array([2] * 18 + [3] * 2), _flip(wrong=(17,), right=(18,)), 0.9, 2.0),
    ("topk", 2.0): (np.array([1] * 10 + [2] * 10), _flip(wrong=(0, 1, 2, 3)), 0.9, 1.8),  # a 4-0 split
    ("entropy", 0.5): (np.full(N_TEST, 1), FULL, 0.7, 1.0),
    ("oracle", 0.0): (np.full(N_TEST, 1), FULL, 0.9, 1.0),
}


def _sweep(index: int) -> pd.DataFrame:
    rows = []
    for (policy, param), arrays in HAND.items():
        if index == 0:  # test: from the per-input decisions
            steps, correct = arrays[0], arrays[1]
            interval = wilson_interval(int(correct.sum()), N_TEST)
            rows.append((policy, param, correct.mean(), steps.mean(), N_TEST, *interval))
        else:
            rows.append((policy, param, arrays[2], arrays[3], N_VAL, math.nan, math.nan))
    columns = ["policy", "param", "accuracy", "avg_timesteps", "n", "accuracy_low", "accuracy_high"]
    return pd.DataFrame(rows, columns=columns)


def _run(name: str = "hand", validation: bool = True) -> RunResult:
    test = _sweep(0)
    decisions = Decisions(
        np.array([k[0] for k in HAND]),
        np.array([k[1] for k in HAND]),
        np.stack([v[0] for v in HAND.values()]).astype(np.int16),
        np.stack([v[1] for v in HAND.values()]),
    )
    return RunResult(
        run=name,
        dataset="digits",
        dataset_label="digits (sklearn 8x8)",
        simulated=False,
        model="resnet19",
        paper_model="ResNet-19",
        method="direct",
        T=T,
        num_classes=10,
        model_note="",
        n_test=N_TEST,
        accuracy_per_t=test[test["policy"] == "fixed"]["accuracy"].to_numpy(dtype=np.float64),
        sweep=test,
        exit_shares=pd.DataFrame(columns=["policy", "param", "t", "share"]),
        aet=1.2,
        empirical_aet=1.1,
        decisions=decisions,
        val_sweep=_sweep(1) if validation else None,
    )


def _row(tidy: pd.DataFrame, policy: str) -> pd.Series:
    rows = tidy[tidy["policy"] == policy]
    assert len(rows) == 1
    return rows.iloc[0]


def test_points_are_chosen_on_validation_where_test_selection_would_pick_another():
    """Target: the full-T validation accuracy, 90 %. On validation SEENN-I's alpha 0.9 reaches 80 % only,
    so alpha 0.99 (2.0 steps) is chosen; choosing on the test set would have taken alpha 0.9, which
    matches the full-T test accuracy at 1.4 steps."""
    tidy = comparison([_run()])
    assert list(tidy.columns) == TIDY_COLUMNS
    assert list(tidy["drop_pts"].unique()) == [0.0]  # 0.5 and 1 point are below one of 10 validation inputs
    seenn1 = _row(tidy, "seenn1")
    assert (seenn1["status"], seenn1["param"], seenn1["val_accuracy"]) == ("reached", 0.99, 90.0)
    assert seenn1["accuracy"] == pytest.approx(90.0) and seenn1["avg_timesteps"] == pytest.approx(2.1)
    on_test = matched_point(_run().policy_rows("seenn1"), 0.9)
    assert on_test["param"] == 0.9  # what test-set selection would have reported
    assert _row(tidy, "fixed")["param"] == 3.0 and _row(tidy, "fixed")["val_avg_timesteps"] == 3.0
    assert _row(tidy, "entropy")["status"] == "not reached"
    assert _row(tidy, "oracle")["status"] == "reference"
    np.testing.assert_allclose(tidy["full_val_accuracy"], 90.0)
    np.testing.assert_allclose(tidy["target_val_accuracy"], 90.0)


def test_accuracy_against_full_t_by_exact_mcnemar_with_holm():
    """Top-K is wrong on 4 inputs full T gets right and right on none it gets wrong: b = 4, c = 0, exact
    p = 2 / 2^4 = 0.125 (a paired bootstrap would call this split significant). The family has three
    distinct tests (fixed T = 3: b 1, c 0, p 1; SEENN-I: b 1, c 1, p 1; Top-K: 0.125): Holm multiplies the
    smallest by 3 -> 0.375, the others stay 1. Nothing is significant."""
    tidy = comparison([_run()])
    topk = _row(tidy, "topk")
    assert (topk["mcnemar_b"], topk["mcnemar_c"]) == (4, 0)
    assert topk["delta_accuracy_vs_full"] == pytest.approx(-20.0)
    assert topk["mcnemar_p"] == pytest.approx(0.125) and topk["mcnemar_p_holm"] == pytest.approx(0.375)
    assert topk["significant_vs_full"] is False
    seenn1, fixed = _row(tidy, "seenn1"), _row(tidy, "fixed")
    assert (seenn1["mcnemar_b"], seenn1["mcnemar_c"], seenn1["mcnemar_p_holm"]) == (1, 1, 1.0)
    assert (fixed["mcnemar_b"], fixed["mcnemar_c"], fixed["mcnemar_p"]) == (1, 0, 1.0)
    assert math.isnan(_row(tidy, "oracle")["mcnemar_p"])  # equal to full T by construction: no test
    assert not tidy["significant_vs_full"].eq(True).any()


def test_timesteps_against_seenn1_by_paired_t():
    """Top-K minus SEENN-I's chosen point per input: -1 on 12 inputs, 0 on 8 -> mean -0.6, s = 0.502625,
    se = 0.112390, t(0.975, 19) = 2.093024 -> [-0.835234, -0.364766]."""
    tidy = comparison([_run()])
    topk = _row(tidy, "topk")
    assert topk["delta_timesteps_vs_seenn1"] == pytest.approx(-0.6)
    assert (topk["delta_timesteps_low"], topk["delta_timesteps_high"]) == pytest.approx(
        (-0.835234, -0.364766), abs=1e-5
    )
    assert (
        topk["significant_vs_seenn1"] is True and topk["delta_timesteps_p_holm"] >= topk["delta_timesteps_p"]
    )
    seenn1 = _row(tidy, "seenn1")
    assert math.isnan(seenn1["delta_timesteps_vs_seenn1"]) and math.isnan(seenn1["significant_vs_seenn1"])


def test_a_run_without_validation_data_chooses_nothing_on_test():
    tidy = comparison([_run(validation=False)])
    assert set(tidy.loc[tidy["policy"] != "oracle", "status"]) == {NO_VALIDATION}
    assert tidy.loc[tidy["policy"] != "oracle", "accuracy"].isna().all()


def test_usable_drops_need_one_input():
    assert usable_drops((0.0, 0.1, 0.5, 1.0), n_val=251, n_test=540) == [0.0, 0.5, 1.0]  # 1 input = 0.40
    assert usable_drops((0.0, 0.1, 0.5), n_val=5000, n_test=10000) == [0.0, 0.1, 0.5]
    assert usable_drops((0.0, 0.5), n_val=0, n_test=540) == [0.0, 0.5]


def test_matched_point_prefers_higher_accuracy_at_equal_steps_and_reports_none():
    points = pd.DataFrame(
        {"param": [0.1, 0.2, 0.3], "accuracy": [0.90, 0.92, 0.95], "avg_timesteps": [2.0, 2.0, 3.0]}
    )
    assert matched_point(points, 0.90)["param"] == 0.2
    assert matched_point(points, 0.93)["param"] == 0.3
    assert matched_point(points, 0.96) is None


def test_markdown_cells_marks_and_legend():
    text = re.sub(" +", " ", to_markdown(comparison([_run()])))
    assert text.startswith("### Exit policies at matched accuracy")
    assert "full-T accuracy 90.00% on 20 test inputs, 90.00% on 10 validation inputs; AET 1.200" in text
    assert "val ≥ 90.00% (full T)" in text
    # 18 of 20: Wilson [69.90, 97.21]; SEENN-I's own row is the timestep reference
    assert (
        "| SEENN-I (max softmax) | 2.10 (1.90x) ref · 90.00 [69.90, 97.21] · α=0.99 · Δ +0.00 (b 1, c 1)"
        in text
    )
    assert "1.50 (2.67x)* · 70.00 [" in text and "β=2 · Δ −20.00 (b 4, c 0) |" in text  # no † on a 4-0 split
    assert "| oracle cutoff (uses labels) | 1.00 (4.00x)* · 90.00 [69.90, 97.21] |" in text
    assert "not reached" in text and "Holm" in text and "VALIDATION" in text and "[low, high]" in text
    assert "±" not in text and text.endswith("\n")
    assert to_markdown(comparison([_run()]), notes=[]).count("Notes:") == 0


def test_figure_marks_oracle_and_aet(tmp_path):
    fig = exit_policies_figure([_run(), _run(name="again")])
    assert isinstance(fig, Figure) and len(fig.axes) == 2
    labels = [line.get_label() for line in fig.axes[0].get_lines()]
    assert any("oracle" in label for label in labels) and any("AET" in label for label in labels)
    assert len(labels) == 6  # five policies + the AET star
    fig.savefig(tmp_path / "exit_policies.png", dpi=50)
    assert (tmp_path / "exit_policies.png").stat().st_size > 1000
    with pytest.raises(ValueError):
        exit_policies_figure([])


def test_on_loaded_run_folders(tmp_path):
    """The report reads the same run folders the tables do; a folder with val_sweep.csv gets chosen points,
    one without gets none."""
    folders = write_fake_runs(tmp_path / "runs")
    sweep = pd.read_csv(folders[0] / "sweep.csv").assign(n=25)
    sweep.to_csv(folders[0] / "val_sweep.csv", index=False)
    runs = load_runs(folders)
    assert runs[0].n_val == 25 and runs[1].val_sweep is None
    tidy = comparison(runs)
    assert set(tidy["run"]) == {r.run for r in runs}
    assert (tidy.loc[tidy["run"] == runs[0].run, "status"] == "reached").any()
    assert set(tidy.loc[tidy["run"] == runs[1].run, "status"]) == {NO_VALIDATION}
    assert set(policy_curves(runs[0])) == set(runs[0].sweep["policy"])
    assert len(exit_policies_figure(runs).axes) == len(runs)
