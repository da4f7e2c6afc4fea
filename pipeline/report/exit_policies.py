"""Exit-policy comparison at matched accuracy: SEENN-I / SEENN-II against SNNCutoff's Top-K, entropy and
the oracle cutoff, per run.

For each run the targets are the fixed-T SNN's full-T accuracy minus 0.1, 0.5 and 1 percentage points. For
each policy in the run's sweep and each target, the matched point is the operating point with the smallest
average timesteps among those whose accuracy reaches the target ("not reached" when none does); the
timestep reduction is T / average timesteps. `comparison` returns the tidy frame (the CSV twin, accuracy
in %), `to_markdown` renders it, `exit_policies_figure` draws accuracy against average timesteps.
"""

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from pipeline.report.figures import panel_grid
from pipeline.report.markdown import NO_VALUE, pipe_table
from pipeline.exits.stats import paired_bootstrap
from pipeline.report.results import RunResult

TITLE = "Exit policies at matched accuracy: average timesteps to stay within 0.1 / 0.5 / 1 point of full T"
DROPS_PTS = (0.1, 0.5, 1.0)  # accuracy targets: full-T accuracy minus these percentage points
# Display order and names; policies not listed here follow in alphabetical order under their own name.
POLICY_LABELS = {
    "fixed": "fixed T",
    "seenn1": "SEENN-I (max softmax)",
    "seenn2": "SEENN-II (policy net)",
    "entropy": "entropy score",
    "topk": "Top-K gap (beta grid)",
    "topk_calibrated": "Top-K, calibrated (epsilon)",
    "oracle": "oracle cutoff (uses labels)",
}
TIDY_COLUMNS = [
    "run",
    "model",
    "method",
    "dataset",
    "dataset_label",
    "T",
    "full_accuracy",
    "aet",
    "drop_pts",
    "target_accuracy",
    "policy",
    "policy_label",
    "status",
    "param",
    "accuracy",
    "accuracy_low",
    "accuracy_high",
    "avg_timesteps",
    "reduction",
    "delta_timesteps_vs_seenn1",  # this point's average timesteps minus SEENN-I's at the same target
    "delta_timesteps_low",  # its 95 % paired-bootstrap interval over the test inputs
    "delta_timesteps_high",
    "significant_vs_seenn1",  # the interval excludes 0 (NaN where there is nothing to compare)
    "delta_accuracy_vs_full",  # accuracy minus the full-T accuracy, points (paired bootstrap below)
    "delta_accuracy_low",
    "delta_accuracy_high",
    "significant_vs_full",
]
_ROUTES = {"direct": "direct training", "conversion": "ANN-SNN conversion"}
_TOL = 1e-9  # accuracy comparisons (fractions); sweep.csv stores 6 significant digits
_NO_VALUE = NO_VALUE


def policy_order(policies: Sequence[str]) -> list[str]:
    """Known policies in `POLICY_LABELS` order, then the others alphabetically."""
    known = [p for p in POLICY_LABELS if p in set(policies)]
    return known + sorted(set(policies) - set(known))


def effective_timesteps(points: pd.DataFrame) -> pd.Series:
    """Average timesteps plus, for SEENN-II, its policy network's cost in SNN-timestep equivalents
    (`policy_cost`, from seenn2.json): the cost the comparison charges each point."""
    cost = points["policy_cost"].fillna(0.0) if "policy_cost" in points else 0.0
    return points["avg_timesteps"] + cost


def matched_point(points: pd.DataFrame, target: float) -> pd.Series | None:
    """The operating point with the smallest effective timesteps (`effective_timesteps`) among those with
    accuracy >= `target`.

    Ties go to the higher accuracy, then the smaller param. `points` has the sweep columns (accuracy a
    fraction); None when no point reaches the target.
    """
    reached = points[points["accuracy"] >= target - _TOL].assign(_cost=lambda d: effective_timesteps(d))
    if reached.empty:
        return None
    order = reached.sort_values(["_cost", "accuracy", "param"], ascending=[True, False, True], kind="stable")
    return order.iloc[0].drop("_cost")


def comparison(runs: Sequence[RunResult], drops_pts: Sequence[float] = DROPS_PTS) -> pd.DataFrame:
    """Tidy frame: one row per (run, target, policy) with the matched point (accuracy in %).

    Args:
        runs: runs whose sweep holds every policy to compare (fixed rows are required; `oracle`,
            `topk`, ... rows where the sweep stage wrote them).
        drops_pts: accuracy drops from the full-T accuracy, in percentage points.
    """
    rows = []
    for run in runs:
        full = float(run.accuracy_per_t[-1])
        policies = policy_order(run.sweep["policy"].unique())
        for drop in drops_pts:
            target = full - drop / 100.0
            matched = {policy: matched_point(run.policy_rows(policy), target) for policy in policies}
            for policy in policies:
                point = matched[policy]
                row = {
                    "run": run.run,
                    "model": run.paper_model,
                    "method": run.method,
                    "dataset": run.dataset,
                    "dataset_label": run.label,
                    "T": run.T,
                    "full_accuracy": 100.0 * full,
                    "aet": run.aet,
                    "drop_pts": float(drop),
                    "target_accuracy": 100.0 * target,
                    "policy": policy,
                    "policy_label": POLICY_LABELS.get(policy, policy),
                    "status": "not reached",
                    "param": math.nan,
                    "accuracy": math.nan,
                    "avg_timesteps": math.nan,
                    "reduction": math.nan,
                }
                if point is not None:
                    cost = float(point.get("policy_cost", 0.0)) if "policy_cost" in point else 0.0
                    avg = float(point["avg_timesteps"]) + (0.0 if math.isnan(cost) else cost)
                    row.update(
                        status="reached",
                        param=float(point["param"]),
                        avg_timesteps=avg,
                        accuracy=100.0 * float(point["accuracy"]),
                        accuracy_low=100.0 * float(point.get("accuracy_low", math.nan)),
                        accuracy_high=100.0 * float(point.get("accuracy_high", math.nan)),
                        reduction=run.T / avg,
                        **_paired(
                            run, policy, point, matched.get("seenn1"), 0.0 if math.isnan(cost) else cost
                        ),
                    )
                rows.append(row)
    return pd.DataFrame(rows, columns=TIDY_COLUMNS)


def _paired(
    run: RunResult, policy: str, point: pd.Series, seenn1: pd.Series | None, cost: float = 0.0
) -> dict:
    """Paired bootstraps over the run's test inputs: this point's average timesteps (plus a policy
    network's constant `cost`) against SEENN-I's matched point at the same target, and its accuracy against
    the full-T SNN's (points)."""
    out: dict = {}
    mine = run.decisions.find(policy, float(point["param"])) if run.decisions is not None else None
    if mine is None:
        return out
    steps, correct = mine
    reference = run.decisions.find("seenn1", float(seenn1["param"])) if seenn1 is not None else None
    if reference is not None and policy != "seenn1":
        diff = paired_bootstrap(steps + cost, reference[0])
        out.update(
            delta_timesteps_vs_seenn1=diff.estimate,
            delta_timesteps_low=diff.low,
            delta_timesteps_high=diff.high,
            significant_vs_seenn1=diff.significant,
        )
    full = run.decisions.find("fixed", float(run.T))
    if full is not None and policy != "fixed":
        diff = paired_bootstrap(correct, full[1])
        out.update(
            delta_accuracy_vs_full=100 * diff.estimate,
            delta_accuracy_low=100 * diff.low,
            delta_accuracy_high=100 * diff.high,
            significant_vs_full=diff.significant,
        )
    return out


# --- Markdown -------------------------------------------------------------------------------------------


# How a policy's sweep param is printed in a cell; the oracle has none.
_PARAM_NAMES = {
    "fixed": "T",
    "seenn1": "α",
    "seenn2": "β",
    "topk": "β",
    "topk_calibrated": "ε",
    "entropy": "h",
}


def _cell(row: pd.Series) -> str:
    """`2.20 (1.82x) · 94.95±1.8% at β=2 ≈`: average timesteps, reduction, accuracy (± half its 95 %
    interval), operating point, and ≈ where the average timesteps do not differ from SEENN-I's beyond
    noise."""
    if row["status"] != "reached":
        return "not reached"
    accuracy = f"{row['accuracy']:.2f}"
    if not (math.isnan(row["accuracy_low"]) or math.isnan(row["accuracy_high"])):
        accuracy += f"±{(row['accuracy_high'] - row['accuracy_low']) / 2:.1f}"
    text = f"{row['avg_timesteps']:.2f} ({row['reduction']:.2f}x) · {accuracy}%"
    if row["policy"] != "oracle":
        text += f" at {_PARAM_NAMES.get(row['policy'], 'param')}={row['param']:g}"
    if row["significant_vs_seenn1"] is False or row["significant_vs_seenn1"] == 0:
        text += " ≈"
    return text


def _run_section(tidy: pd.DataFrame) -> list[str]:
    first = tidy.iloc[0]
    route = _ROUTES.get(first["method"], first["method"])
    heading = (
        f"#### {first['model']} on {first['dataset_label']}, {route}, T = {first['T']} "
        f"(run `{first['run']}`): "
        f"full-T accuracy {first['full_accuracy']:.2f}%, AET {first['aet']:.3f}"
    )
    drops = list(dict.fromkeys(tidy["drop_pts"]))
    targets = dict(zip(tidy["drop_pts"], tidy["target_accuracy"]))
    header = ["Policy"] + [f"−{d:g} pt (≥ {targets[d]:.2f}%)" for d in drops]
    lines = []
    for policy, group in tidy.groupby("policy", sort=False):
        by_drop = dict(zip(group["drop_pts"], (_cell(r) for _, r in group.iterrows())))
        lines.append([group["policy_label"].iloc[0]] + [by_drop.get(d, _NO_VALUE) for d in drops])
    return [heading, "", pipe_table(header, lines)]


def comparison_notes(drops_pts: Sequence[float] = DROPS_PTS) -> list[str]:
    shown = ", ".join(f"{d:g}" for d in drops_pts)
    return [
        f"Targets: the fixed-T SNN's accuracy at its full T minus {shown} percentage points (top-1, %).",
        "Cells: average timesteps per test input of the cheapest operating point reaching the target, "
        "(T / average timesteps), then its accuracy and its parameter (T: fixed steps, α: SEENN-I "
        "confidence, β: SEENN-II penalty or Top-K gap, ε: calibration tolerance, h: entropy-score "
        "threshold); 'not reached': no point of that policy's grid reaches the target. ± is half the "
        "accuracy's 95 % Wilson interval over the test inputs.",
        "≈: this cell's average timesteps do not differ from SEENN-I's cell at the same target beyond "
        "noise (a paired bootstrap over the test inputs, 95 %, in the CSV as delta_timesteps_vs_seenn1 "
        "with its interval); unmarked cells differ significantly. The CSV also holds each point's "
        "accuracy difference from the full-T SNN with its paired interval (delta_accuracy_vs_full).",
        "SEENN-II cells include its policy network's cost, in SNN-timestep equivalents (its MACs over one "
        "SNN timestep's; seenn2.json), added to the average timesteps.",
        "A policy's points are only those of its sweep grid, so a finer grid can only lower its cell.",
        "Top-K: stop when the gap between the two largest summed logits exceeds beta; calibrated Top-K "
        "fits one beta per step on the training set so that at most epsilon of the exits are unsettled.",
        "Oracle: each input stops at the first step after which its prediction stays correct (T if wrong "
        "at T); it reads the labels, so it is a reference, not a policy. It keeps the full-T accuracy; a "
        "label-free policy can still beat it on inputs that are right early and wrong at T.",
        "AET (paper eq. 4) is the ideal early exit of the SEENN paper: full-T accuracy at AET steps.",
    ]


def to_markdown(tidy: pd.DataFrame, title: str = TITLE, notes: Sequence[str] | None = None) -> str:
    """Title, one table per run (rows: policies, columns: targets), and notes; ends with a newline."""
    parts = [f"### {title}", ""]
    if tidy.empty:
        parts.append("(no rows)")
    for _, group in tidy.groupby("run", sort=False):
        parts += _run_section(group) + [""]
    notes = comparison_notes(list(dict.fromkeys(tidy["drop_pts"])) or DROPS_PTS) if notes is None else notes
    if notes:
        parts += ["Notes:", *[f"- {note}" for note in notes]]
    return "\n".join(parts).rstrip("\n") + "\n"


# --- figure ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ExitPoliciesStyle:
    """Colours, markers and sizes of the comparison figure."""

    colors: tuple[tuple[str, str], ...] = (
        ("fixed", "tab:orange"),
        ("seenn1", "tab:blue"),
        ("seenn2", "tab:green"),
        ("entropy", "tab:purple"),
        ("topk", "tab:brown"),
        ("topk_calibrated", "tab:pink"),
        ("oracle", "black"),
    )  # policy -> colour; others take tab:gray
    markers: tuple[tuple[str, str], ...] = (
        ("fixed", "s"),
        ("seenn1", "o"),
        ("seenn2", "D"),
        ("entropy", "v"),
        ("topk", "^"),
        ("topk_calibrated", "P"),
        ("oracle", "X"),
    )  # policy -> marker; others take "."
    aet_color: str = "tab:red"  # AET star
    fontsize: float = 8.0  # labels, ticks, legends (pt)
    title_fontsize: float = 9.0  # panel titles (pt)
    marker_size: float = 5.0  # curve markers (pt)
    highlight_size: float = 10.0  # oracle and AET markers (pt)
    panel_size: tuple[float, float] = (4.4, 3.4)  # one run's panel (inches)


def policy_curves(run: RunResult) -> dict[str, pd.DataFrame]:
    """Per policy in the sweep: param, avg_timesteps, accuracy_pct, sorted by average timesteps."""
    curves = {}
    for policy in policy_order(run.sweep["policy"].unique()):
        rows = run.policy_rows(policy)
        curves[policy] = (
            pd.DataFrame(
                {
                    "param": rows["param"].to_numpy(dtype=np.float64),
                    "avg_timesteps": rows["avg_timesteps"].to_numpy(dtype=np.float64),
                    "accuracy_pct": 100.0 * rows["accuracy"].to_numpy(dtype=np.float64),
                }
            )
            .sort_values(["avg_timesteps", "param"], kind="stable")
            .reset_index(drop=True)
        )
    return curves


def plot_exit_policies(ax: Axes, run: RunResult, style: ExitPoliciesStyle | None = None) -> None:
    """Accuracy (%) against average timesteps per input for every policy of `run`, oracle and AET marked."""
    style = style or ExitPoliciesStyle()
    colors, markers = dict(style.colors), dict(style.markers)
    for policy, curve in policy_curves(run).items():
        color, label = colors.get(policy, "tab:gray"), POLICY_LABELS.get(policy, policy)
        if policy == "oracle":
            ax.plot(
                curve["avg_timesteps"],
                curve["accuracy_pct"],
                linestyle="none",
                marker=markers["oracle"],
                markersize=style.highlight_size,
                color=color,
                label=label,
            )
            continue
        ax.plot(
            curve["avg_timesteps"],
            curve["accuracy_pct"],
            marker=markers.get(policy, "."),
            markersize=style.marker_size,
            color=color,
            label=label,
            linewidth=1.0,
        )
    full = 100.0 * float(run.accuracy_per_t[-1])
    ax.plot(
        [run.aet],
        [full],
        linestyle="none",
        marker="*",
        markersize=style.highlight_size + 4,
        color=style.aet_color,
        label=f"AET = {run.aet:.3f} (at full-T accuracy)",
    )
    route = _ROUTES.get(run.method, run.method)
    ax.set_title(f"{run.paper_model} on {run.label}\n{route}, T = {run.T}", fontsize=style.title_fontsize)
    ax.set_xlabel("average timesteps per input", fontsize=style.fontsize)
    ax.set_ylabel("top-1 accuracy (%)", fontsize=style.fontsize)
    ax.tick_params(labelsize=style.fontsize)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=style.fontsize, loc="lower right")


def exit_policies_figure(
    runs: Sequence[RunResult], style: ExitPoliciesStyle | None = None, ncols: int = 3
) -> Figure:
    """One panel per run (at most `ncols` a row): accuracy against average timesteps for all policies."""
    if not runs:
        raise ValueError("exit_policies_figure needs at least one run")
    style = style or ExitPoliciesStyle()
    fig, grid = panel_grid(len(runs), ncols, style.panel_size)
    for ax, run in zip(grid.flat, runs):
        plot_exit_policies(ax, run, style)
    fig.suptitle("Exit policies: accuracy against average timesteps", fontsize=style.title_fontsize)
    return fig
