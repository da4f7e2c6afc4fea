"""The exit-policy comparison as markdown: one table per run (rows: policies, columns: targets) and a legend
that says what every number and mark means."""

import math
from collections.abc import Sequence

import pandas as pd

from pipeline.report.exit_policies import DROPS_PTS, LEVEL, REACHED, REFERENCE, ROUTES, TITLE
from pipeline.report.markdown import NO_VALUE, pipe_table

# How a policy's sweep param is printed in a cell; the oracle has none.
_PARAM_NAMES = {
    "fixed": "T",
    "seenn1": "α",
    "seenn2": "β",
    "topk": "β",
    "topk_calibrated": "ε",
    "entropy": "h",
}


def _is_true(value) -> bool:
    """A significance flag: True, False or NaN (no test)."""
    return not (isinstance(value, float) and math.isnan(value)) and bool(value)


def _cell(row: pd.Series) -> str:
    """`1.84 (2.17x)* · 96.30 [94.31, 97.62] · α=0.9 · Δ −0.37 (b 3, c 1)`: test average timesteps (with
    `*` where they differ from SEENN-I's at this target, `ref` on SEENN-I's own row), reduction, test
    accuracy with its Wilson interval, the point chosen on validation, and the accuracy difference from
    full T with McNemar's discordant counts (`†` where it is significant)."""
    if row["status"] not in (REACHED, REFERENCE):
        return row["status"]
    timesteps = f"{row['avg_timesteps']:.2f} ({row['reduction']:.2f}x)"
    if row["policy"] == "seenn1":
        timesteps += " ref"
    elif _is_true(row["significant_vs_seenn1"]):
        timesteps += "*"
    accuracy = f"{row['accuracy']:.2f}"
    if not (math.isnan(row["accuracy_low"]) or math.isnan(row["accuracy_high"])):
        accuracy += f" [{row['accuracy_low']:.2f}, {row['accuracy_high']:.2f}]"
    parts = [timesteps, accuracy]
    if row["policy"] != "oracle":
        parts.append(f"{_PARAM_NAMES.get(row['policy'], 'param')}={row['param']:g}")
    if not math.isnan(row["mcnemar_p"]):
        mark = "†" if _is_true(row["significant_vs_full"]) else ""
        delta = f"{row['delta_accuracy_vs_full']:+.2f}".replace("-", "−")
        parts.append(f"Δ {delta}{mark} (b {int(row['mcnemar_b'])}, c {int(row['mcnemar_c'])})")
    return " · ".join(parts)


def _run_section(tidy: pd.DataFrame) -> list[str]:
    first = tidy.iloc[0]
    route = ROUTES.get(first["method"], first["method"])
    heading = (
        f"#### {first['model']} on {first['dataset_label']}, {route}, T = {first['T']} "
        f"(run `{first['run']}`): "
        f"full-T accuracy {first['full_accuracy']:.2f}% on {first['n_test']} test inputs"
    )
    if first["n_val"]:
        heading += f", {first['full_val_accuracy']:.2f}% on {first['n_val']} validation inputs"
    heading += f"; AET {first['aet']:.3f}"
    drops = list(dict.fromkeys(tidy["drop_pts"]))
    targets = dict(zip(tidy["drop_pts"], tidy["target_val_accuracy"]))

    def column(drop: float) -> str:
        if math.isnan(targets[drop]):
            return f"−{drop:g} pt"
        return f"val ≥ {targets[drop]:.2f}% (" + ("full T" if drop == 0 else f"−{drop:g} pt") + ")"

    lines = []
    for _, group in tidy.groupby("policy", sort=False):
        by_drop = dict(zip(group["drop_pts"], (_cell(r) for _, r in group.iterrows())))
        lines.append([group["policy_label"].iloc[0]] + [by_drop.get(d, NO_VALUE) for d in drops])
    return [heading, "", pipe_table(["Policy", *map(column, drops)], lines)]


def comparison_notes(drops_pts: Sequence[float] = DROPS_PTS) -> list[str]:
    shown = ", ".join(f"{d:g}" for d in drops_pts)
    level = f"{100 * LEVEL:g} %"
    return [
        f"Targets: each run's fixed-T accuracy at its full T on its validation split (training images never "
        f"trained on) minus {shown} percentage points; a drop smaller than one input of the validation or "
        "test set is not shown. Each policy's operating point is the cheapest grid point (fewest average "
        "timesteps) whose VALIDATION accuracy reaches the target; that point is then evaluated once on the "
        "test set. Nothing in this table is chosen on test inputs.",
        "Cells: test average timesteps per input (T / average timesteps), test accuracy in % with its 95 % "
        "Wilson interval [low, high], the chosen parameter (T: fixed steps, α: SEENN-I confidence, β: "
        "SEENN-II penalty or Top-K gap, ε: calibration tolerance, h: entropy-score threshold), then Δ: test "
        "accuracy minus the full-T SNN's, in points, with McNemar's discordant counts (b: test inputs right "
        "at full T only, c: right under this point only). 'not reached': no grid point reaches the target "
        "on validation.",
        f"†: the accuracy differs from full T's (exact McNemar test, two-sided, Holm-adjusted over every "
        f"distinct comparison in this table, family-wise {level}). A point identical to full T by "
        "construction (fixed T at T, the oracle) is not tested.",
        f"*: the average timesteps differ from SEENN-I's at the same target (paired t test over the test "
        f"inputs, Holm-adjusted, family-wise {level}); 'ref' marks SEENN-I's own row. A mark says the "
        "timesteps differ, not which policy is better: read the numbers. The CSV has every difference with "
        "its interval and raw and adjusted p (mcnemar_*, delta_timesteps_*).",
        "SEENN-II cells include its policy network's cost, in SNN-timestep equivalents (its MACs over one "
        "SNN timestep's; seenn2.json), added to the average timesteps.",
        "One training seed and one grid per policy: a finer grid can only lower a policy's cell, so these "
        "are rankings of this run and grid, not of the methods in general.",
        "Top-K: stop when the gap between the two largest summed logits exceeds beta; calibrated Top-K "
        "fits one beta per step on the training set so that at most epsilon of the exits are unsettled.",
        "Oracle: each input stops at the first step after which its prediction stays correct (T if wrong "
        "at T); it reads the labels, so it is a reference, not a policy, and has nothing to choose.",
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
