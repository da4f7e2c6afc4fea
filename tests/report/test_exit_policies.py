"""Tests for `pipeline/report/exit_policies.py`: matched-accuracy selection, the markdown and the figure."""

import re
import math

import numpy as np
import pandas as pd
import pytest
from matplotlib.figure import Figure

from pipeline.report.exit_policies import (
    TIDY_COLUMNS,
    comparison,
    exit_policies_figure,
    matched_point,
    policy_curves,
    to_markdown,
)
from pipeline.report.results import RunResult, load_runs

# The fake run folders are shared with the table tests (pytest puts tests/ on sys.path).
from tests.report.test_tables import write_fake_runs

# Hand-made sweep of a T = 4 run whose full-T accuracy is 95 %: targets 94.9, 94.5 and 94 %.
HAND_SWEEP = pd.DataFrame(
    [
        ("fixed", 1, 0.80, 1.0),
        ("fixed", 2, 0.90, 2.0),
        ("fixed", 3, 0.94, 3.0),
        ("fixed", 4, 0.95, 4.0),
        ("seenn1", 0.5, 0.93, 1.5),
        ("seenn1", 0.9, 0.945, 2.0),
        ("seenn1", 0.99, 0.949, 2.6),
        ("seenn1", 0.999, 0.95, 3.0),
        ("topk", 1.0, 0.944, 1.8),
        ("topk", 2.0, 0.9495, 2.2),
        ("entropy", 0.5, 0.90, 1.2),
        ("oracle", 0.0, 0.95, 1.7),
    ],
    columns=["policy", "param", "accuracy", "avg_timesteps"],
)
# policy -> expected (param, avg timesteps) at drops 0.1, 0.5, 1 point; None = not reached.
EXPECTED = {
    "fixed": [(4, 4.0), (4, 4.0), (3, 3.0)],  # 94 % at T = 3 reaches the 94 % target exactly
    "seenn1": [(0.99, 2.6), (0.9, 2.0), (0.9, 2.0)],  # 93 % at 1.5 steps never reaches a target
    "topk": [(2.0, 2.2), (2.0, 2.2), (1.0, 1.8)],
    "entropy": [None, None, None],
    "oracle": [(0.0, 1.7)] * 3,
}


def _run(sweep: pd.DataFrame = HAND_SWEEP, name: str = "hand") -> RunResult:
    fixed = sweep[sweep["policy"] == "fixed"].sort_values("param")
    return RunResult(
        run=name,
        dataset="digits",
        dataset_label="digits (sklearn 8x8)",
        simulated=False,
        model="resnet19",
        paper_model="ResNet-19",
        method="direct",
        T=4,
        num_classes=10,
        model_note="",
        n_test=1000,
        accuracy_per_t=fixed["accuracy"].to_numpy(dtype=np.float64),
        sweep=sweep,
        exit_shares=pd.DataFrame(columns=["policy", "param", "t", "share"]),
        aet=1.6,
        empirical_aet=1.5,
    )


def test_matched_accuracy_selection_on_a_hand_made_sweep():
    tidy = comparison([_run()])
    assert list(tidy.columns) == TIDY_COLUMNS
    assert list(dict.fromkeys(tidy["policy"])) == ["fixed", "seenn1", "entropy", "topk", "oracle"]
    np.testing.assert_allclose(sorted(set(tidy["target_accuracy"])), [94.0, 94.5, 94.9])
    for policy, points in EXPECTED.items():
        rows = tidy[tidy["policy"] == policy].sort_values("drop_pts")
        for (_, row), point in zip(rows.iterrows(), points):
            if point is None:
                assert row["status"] == "not reached" and math.isnan(row["avg_timesteps"])
                continue
            param, avg = point
            assert row["status"] == "reached"
            assert row["param"] == pytest.approx(param) and row["avg_timesteps"] == pytest.approx(avg)
            assert row["reduction"] == pytest.approx(4 / avg)
            assert row["accuracy"] >= row["target_accuracy"] - 1e-9
    np.testing.assert_allclose(tidy["full_accuracy"], 95.0)


def test_matched_point_prefers_higher_accuracy_at_equal_steps_and_reports_none():
    points = pd.DataFrame(
        {"param": [0.1, 0.2, 0.3], "accuracy": [0.90, 0.92, 0.95], "avg_timesteps": [2.0, 2.0, 3.0]}
    )
    assert matched_point(points, 0.90)["param"] == 0.2
    assert matched_point(points, 0.93)["param"] == 0.3
    assert matched_point(points, 0.96) is None


def test_markdown_has_title_cells_and_notes():
    text = to_markdown(comparison([_run()]))
    assert text.startswith("### Exit policies at matched accuracy")
    assert "full-T accuracy 95.00%" in text and "AET 1.600" in text
    assert "2.20 (1.82x) · 94.95% at β=2" in text  # topk at -0.1 pt
    assert "1.80 (2.22x)" in text  # topk at -1 pt
    assert "| oracle cutoff (uses labels) | 1.70 (2.35x) · 95.00% |" in re.sub(
        " +", " ", text
    )  # tables pad their cells
    assert "not reached" in text and "Notes:" in text and "oracle" in text.lower()
    assert text.endswith("\n")
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
    """The report reads the same run folders the tables do (their sweeps hold fixed, SEENN and topk rows)."""
    runs = load_runs(write_fake_runs(tmp_path / "runs"))
    tidy = comparison(runs)
    assert set(tidy["run"]) == {r.run for r in runs}
    assert len(tidy) == sum(3 * r.sweep["policy"].nunique() for r in runs)
    assert set(policy_curves(runs[0])) == set(runs[0].sweep["policy"])
    assert len(exit_policies_figure(runs).axes) == len(runs)
