"""The paper's headline claim, tested on each run: at an average of at most T/2 timesteps, does an exit
policy keep the full-T accuracy?

For each run and policy (fixed T included: running T/2 steps for every input is the baseline an exit rule
has to beat), the operating point is chosen on the VALIDATION split: the most accurate grid point whose
validation average timesteps (SEENN-II: plus its policy network's cost) are at most T/2; ties go to fewer
timesteps, then the smaller param. It is tested once on the test set against the full-T SNN with the exact
McNemar test on the paired per-input correctness (b: right at full T only, c: right under the policy only),
Holm-adjusted over the table. "Significantly below full T" reads the adjusted p at 5 % with c < b.
"""

import math
from collections.abc import Sequence

import pandas as pd

from pipeline.exits.stats import holm, paired_t
from pipeline.report.exit_policies import (
    LEVEL,
    NO_VALIDATION,
    NOT_REACHED,
    POLICY_LABELS,
    REACHED,
    _point_row,
    _versus_full,
    effective_timesteps,
    policy_order,
    tested_point,
)
from pipeline.report.results import RunResult

COLUMNS = [
    "run",
    "model",
    "method",
    "dataset_label",
    "T",
    "budget_timesteps",  # T / 2: the claim's average-timestep budget
    "n_val",
    "n_test",
    "full_accuracy",  # the fixed-T SNN at its full T on the test set (%)
    "policy",
    "policy_label",
    "status",
    "param",
    "val_accuracy",
    "val_avg_timesteps",
    "accuracy",
    "accuracy_low",
    "accuracy_high",
    "avg_timesteps",
    "delta_accuracy_vs_full",
    "delta_low",  # 95 % paired t interval of the accuracy difference, points
    "delta_high",
    "mcnemar_b",
    "mcnemar_c",
    "mcnemar_p",
    "mcnemar_p_holm",
    "below_full",  # significantly below full T (Holm-adjusted p < LEVEL and fewer right answers)
]


def best_within(points: pd.DataFrame, budget: float) -> pd.Series | None:
    """The most accurate point whose effective average timesteps are at most `budget` (ties: fewer
    timesteps, then the smaller param); None when no point is within it."""
    within = points.assign(_cost=effective_timesteps(points))
    within = within[within["_cost"] <= budget + 1e-9]
    if within.empty:
        return None
    order = within.sort_values(["accuracy", "_cost", "param"], ascending=[False, True, True], kind="stable")
    return order.iloc[0].drop("_cost")


def _chosen(run: RunResult, policy: str, budget: float) -> tuple[str, pd.Series | None]:
    if run.val_sweep is None:
        return NO_VALIDATION, None
    chosen = best_within(run.val_policy_rows(policy), budget)
    if chosen is None:
        return NOT_REACHED, None
    return REACHED, tested_point(run, policy, chosen)


def _delta_interval(run: RunResult, policy: str, param: float) -> dict:
    """95 % paired t interval of the point's test accuracy minus full T's, in points: the per-input
    correctness (1/0) of both on the same inputs."""
    mine, full = run.decisions.find(policy, param), run.decisions.find("fixed", float(run.T))
    if mine is None or full is None:
        return {}
    diff = paired_t(mine[1].astype(float), full[1].astype(float))
    return {"delta_low": 100.0 * diff.low, "delta_high": 100.0 * diff.high}


def half_budget(runs: Sequence[RunResult]) -> pd.DataFrame:
    """One row per (run, policy other than the label-reading oracle): the point chosen on validation within
    T/2 average timesteps, tested on the test set against full T (accuracies in %)."""
    rows = []
    for run in runs:
        budget = run.T / 2
        for policy in policy_order(run.sweep["policy"].unique()):
            if policy == "oracle":
                continue
            status, point = _chosen(run, policy, budget)
            row = {
                "run": run.run,
                "model": run.paper_model,
                "method": run.method,
                "dataset_label": run.label,
                "T": run.T,
                "budget_timesteps": budget,
                "n_val": run.n_val,
                "n_test": run.n_test,
                "full_accuracy": 100.0 * float(run.accuracy_per_t[-1]),
                "policy": policy,
                "policy_label": POLICY_LABELS.get(policy, policy),
                "status": status,
            }
            if point is not None:
                row.update(_point_row(run, policy, point))
                row.update(_versus_full(run, policy, float(point["param"])))
                row.update(_delta_interval(run, policy, float(point["param"])))
            rows.append(row)
    tidy = pd.DataFrame(rows, columns=COLUMNS)
    tested = tidy["mcnemar_p"].notna()
    tidy["mcnemar_p_holm"] = math.nan
    if tested.any():
        tidy.loc[tested, "mcnemar_p_holm"] = holm(tidy.loc[tested, "mcnemar_p"].to_numpy(float))
    below = tested & (tidy["mcnemar_p_holm"] < LEVEL) & (tidy["mcnemar_c"] < tidy["mcnemar_b"])
    tidy["below_full"] = [bool(b) if t else math.nan for b, t in zip(below, tested)]
    tidy["below_full"] = tidy["below_full"].astype(object)
    return tidy[COLUMNS]


def _p(value: float) -> str:
    return "< 0.001" if value < 0.001 else f"= {value:.3f}"


def _summary(tidy: pd.DataFrame) -> str:
    """One sentence over every run: on how many some exit rule (fixed T excluded) keeps full-T accuracy at
    <= T/2, and the exit rule whose accuracy drop there is smallest."""
    rules = tidy[(tidy["policy"] != "fixed") & (tidy["status"] == REACHED)]
    kept = sorted(set(rules.loc[rules["below_full"].map(lambda v: v is False), "run"]))
    runs = tidy["run"].nunique()
    text = (
        f"**At ≤ T/2 average timesteps, some exit rule keeps the full-T accuracy on {len(kept)} of {runs} "
        "networks" + (f" ({', '.join(f'`{r}`' for r in kept)})" if kept else "") + "."
    )
    if not rules.empty:
        best = rules.sort_values("delta_accuracy_vs_full", ascending=False, kind="stable").iloc[0]
        text += (
            f"** Smallest drop: {best['policy_label']} on `{best['run']}`, "
            f"{best['delta_accuracy_vs_full']:+.2f} points "
            f"[{best['delta_low']:+.2f}, {best['delta_high']:+.2f}] "
            f"at {best['avg_timesteps']:.2f} of {best['T']} timesteps (McNemar p {_p(best['mcnemar_p'])})."
        )
    else:
        text += "**"
    return text


def claim_sentences(tidy: pd.DataFrame) -> str:
    """Markdown bullets per run: each policy's point within T/2, its test accuracy and the McNemar test."""
    if tidy.empty:
        return "No run to test."
    lines = [_summary(tidy), ""]
    for run, group in tidy.groupby("run", sort=False):
        first = group.iloc[0]
        head = (
            f"- **`{run}`** ({first['model']}, {first['method']}, T = {first['T']}; "
            f"{int(first['n_test'])} test inputs, one seed): full T {first['full_accuracy']:.2f} %; "
            f"budget at most {first['budget_timesteps']:g} average timesteps, point chosen on "
            f"{int(first['n_val'])} validation inputs."
        )
        lines.append(head)
        kept = []
        for _, r in group.iterrows():
            if r["status"] != REACHED:
                lines.append(f"  - {r['policy_label']}: {r['status']} within the budget on validation.")
                continue
            verdict = (
                "significantly below full T"
                if r["below_full"] is True
                else ("not significantly below full T" if r["below_full"] is False else "identical to full T")
            )
            if r["below_full"] is False:
                kept.append(r["policy_label"])
            lines.append(
                f"  - {r['policy_label']} ({r['param']:g}): {r['avg_timesteps']:.2f} average timesteps, "
                f"{r['accuracy']:.2f} % [{r['accuracy_low']:.2f}, {r['accuracy_high']:.2f}], "
                f"Δ {r['delta_accuracy_vs_full']:+.2f} points "
                f"[{r['delta_low']:+.2f}, {r['delta_high']:+.2f}] "
                f"(b {int(r['mcnemar_b'])}, c {int(r['mcnemar_c'])};"
                f" McNemar p {_p(r['mcnemar_p'])}, Holm-adjusted p {_p(r['mcnemar_p_holm'])}): {verdict}."
            )
        holds = ", ".join(kept) if kept else "no policy"
        lines.append(f"  - Keeps full-T accuracy (not significantly below) at ≤ T/2: {holds}.")
    return "\n".join(lines)
