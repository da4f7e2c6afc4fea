"""The exit-policy comparison in words: per run, what each policy's operating point (chosen on validation
data for the full-T validation accuracy) does on the test set, against full T and against SEENN-I, with
every difference quoted with its interval or discordant counts and its p-value. Written from the committed
`exit_policies.csv`, so the sentences cannot drift from the table."""

import math
from pathlib import Path

import pandas as pd

LEVEL = 0.05
_PARAMS = {"fixed": "T", "seenn1": "α", "seenn2": "β", "topk": "β", "topk_calibrated": "ε", "entropy": "h"}


def _p(value: float) -> str:
    return "p < 0.001" if value < 0.001 else f"p = {value:.3f}"


def _point(row: pd.Series) -> str:
    param = f", {_PARAMS[row['policy']]} = {row['param']:g}" if row["policy"] in _PARAMS else ""
    return f"{row['policy_label']}{param}"


def _versus_full(row: pd.Series) -> str:
    """`Δ −0.56 points (b 4, c 1; McNemar p = 0.375, Holm 1.000): not significantly below full T`."""
    delta, b, c = row["delta_accuracy_vs_full"], int(row["mcnemar_b"]), int(row["mcnemar_c"])
    held = row["mcnemar_p_holm"] < LEVEL
    word = ("below" if delta < 0 else "above") if held else "not significantly different from"
    sign = f"{delta:+.2f}".replace("-", "−")
    return (
        f"Δ {sign} points against full T (b {b}, c {c}; McNemar {_p(row['mcnemar_p'])}, Holm-adjusted "
        f"{_p(row['mcnemar_p_holm'])}): {word} full T"
    )


def _run_lines(rows: pd.DataFrame) -> list[str]:
    first = rows.iloc[0]
    T = int(first["T"])
    lines = [
        f"- **`{first['run']}`** ({first['model']}, T = {T}, {first['dataset_label']}; "
        f"{int(first['n_test'])} test inputs; one seed, one grid per policy): full T {first['full_accuracy']:.2f} % "
        f"on test, target {first['target_val_accuracy']:.2f} % on {int(first['n_val'])} validation inputs."
    ]
    seenn1 = rows[rows["policy"] == "seenn1"]
    for _, row in rows.iterrows():
        if row["policy"] in ("fixed",) and row["param"] == T:
            continue
        if row["status"] == "not reached":
            lines.append(f"  - {row['policy_label']}: no grid point reaches the target on validation.")
            continue
        if row["status"] not in ("reached", "reference"):
            continue
        half = " (at most T/2)" if row["avg_timesteps"] <= T / 2 else ""
        text = (
            f"  - {_point(row)}: {row['avg_timesteps']:.2f} average timesteps{half}, test accuracy "
            f"{row['accuracy']:.2f} % [{row['accuracy_low']:.2f}, {row['accuracy_high']:.2f}]"
        )
        if not math.isnan(row["mcnemar_p"]):
            text += "; " + _versus_full(row)
        if row["policy"] != "seenn1" and not math.isnan(row["delta_timesteps_vs_seenn1"]):
            text += (
                f"; {row['delta_timesteps_vs_seenn1']:+.2f} timesteps against SEENN-I "
                f"[{row['delta_timesteps_low']:+.2f}, {row['delta_timesteps_high']:+.2f}], "
                f"{_p(row['delta_timesteps_p'])}, Holm-adjusted {_p(row['delta_timesteps_p_holm'])}"
            )
        lines.append(text + ".")
    if seenn1.empty or seenn1.iloc[0]["status"] != "reached":
        lines.append("  - SEENN-I reaches no target here, so no policy is compared with it.")
    return lines


def verdicts(csv: Path, drop_pts: float = 0.0) -> str:
    """Markdown bullets per run of `exit_policies.csv`, at the target `drop_pts` below full-T validation
    accuracy (0: keep it)."""
    tidy = pd.read_csv(csv)
    tidy = tidy[tidy["drop_pts"] == drop_pts]
    lines = [
        "Each policy's operating point was chosen on validation data to keep "
        + ("the full-T validation accuracy" if drop_pts == 0 else f"within {drop_pts:g} points of it")
        + ", then tested once on the test set. Differences from full T: exact McNemar test on the "
        "paired per-input correctness (b: right at full T only, c: right under the policy only); from "
        "SEENN-I: paired t interval of the per-input timesteps; both Holm-adjusted over the table "
        f"(family-wise {100 * LEVEL:g} %).",
        "",
    ]
    for _, rows in tidy.groupby("run", sort=False):
        lines += _run_lines(rows)
    return "\n".join(lines)
