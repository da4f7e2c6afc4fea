"""Exit-policy comparison at matched accuracy: SEENN-I / SEENN-II against SNNCutoff's Top-K, entropy, fixed
T and the oracle cutoff, per run, with operating points chosen off the test set.

For each run the targets are its full-T accuracy on the VALIDATION split minus `DROPS_PTS` percentage
points. For each policy and target, the chosen point is the grid point with the smallest effective average
timesteps among those whose validation accuracy reaches the target (`matched_point` on the validation
sweep); it is then evaluated once on the test set. Choosing on the test inputs and testing on them too would
let selection noise pass for an effect (one input more or less moves a cell to another grid point).

Each chosen point is compared on the test inputs with
- the full-T SNN, for accuracy: exact McNemar test on the paired per-input correctness, with its
  discordant counts b (right at full T only) and c (right under the policy only);
- SEENN-I's chosen point at the same target, for average timesteps: paired t interval and p-value of the
  per-input difference in exit steps (plus SEENN-II's policy cost).
Each family of p-values in the table is Holm-adjusted (each distinct comparison counted once, however many
targets chose it); `significant_vs_full` and `significant_vs_seenn1` read the adjusted p at 5 %.
`comparison` returns the tidy frame (the CSV twin, accuracies in %); `exit_policies_markdown.to_markdown`
renders it.
"""

import math
from collections.abc import Sequence

import numpy as np
import pandas as pd

from pipeline.exits.stats import holm, mcnemar, paired_t
from pipeline.report.results import RunResult

TITLE = "Exit policies at matched accuracy: operating points chosen on validation data, tested once"
DROPS_PTS = (0.0, 0.5, 1.0)  # targets: full-T validation accuracy minus these percentage points
LEVEL = 0.05  # family-wise error of each Holm-adjusted family
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
# Statuses of a row: a chosen point; the label-reading oracle (nothing to choose); no grid point reaches
# the target on validation; the run has no validation split (then nothing is chosen, never on test).
REACHED, REFERENCE, NOT_REACHED, NO_VALIDATION = "reached", "reference", "not reached", "no validation split"
TIDY_COLUMNS = [
    "run",
    "model",
    "method",
    "dataset",
    "dataset_label",
    "T",
    "n_val",
    "n_test",
    "full_val_accuracy",  # the fixed-T SNN at its full T on the validation split (%)
    "full_accuracy",  # ... on the test set (%)
    "aet",
    "drop_pts",
    "target_val_accuracy",  # full_val_accuracy - drop_pts: what the chosen point reaches on validation
    "policy",
    "policy_label",
    "status",
    "param",
    "val_accuracy",  # the chosen point's validation accuracy (%)
    "val_avg_timesteps",  # ... and its validation average timesteps (with SEENN-II's policy cost)
    "accuracy",  # test accuracy (%) with its 95 % Wilson interval
    "accuracy_low",
    "accuracy_high",
    "avg_timesteps",  # test average timesteps per input (SEENN-II: plus its policy cost)
    "reduction",  # T / avg_timesteps
    "delta_accuracy_vs_full",  # test accuracy minus full-T test accuracy, points: 100 (c - b) / n_test
    "mcnemar_b",  # test inputs right at full T only
    "mcnemar_c",  # test inputs right under this point only
    "mcnemar_p",  # exact two-sided McNemar p (NaN: identical to full T by construction)
    "mcnemar_p_holm",
    "significant_vs_full",  # mcnemar_p_holm < LEVEL
    "delta_timesteps_vs_seenn1",  # mean per-input exit step minus SEENN-I's at the same target
    "delta_timesteps_low",  # its 95 % paired t interval
    "delta_timesteps_high",
    "delta_timesteps_p",
    "delta_timesteps_p_holm",
    "significant_vs_seenn1",  # delta_timesteps_p_holm < LEVEL: the timesteps differ (not "this one wins")
]
ROUTES = {"direct": "direct training", "conversion": "ANN-SNN conversion"}
_TOL = 1e-9  # accuracy comparisons (fractions); sweep.csv stores 6 significant digits


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


def usable_drops(drops_pts: Sequence[float], n_val: int, n_test: int) -> list[float]:
    """The drops a run can resolve: 0 (keep the full-T accuracy), and any drop of at least one input of
    the smaller of its validation and test sets (a 0.1-point target on 540 inputs is half an input)."""
    if n_val == 0:
        return list(drops_pts)
    one_input = 100.0 / min(n_val, n_test)
    return [d for d in drops_pts if d == 0 or d >= one_input - _TOL]


def _cost(point: pd.Series) -> float:
    cost = float(point["policy_cost"]) if "policy_cost" in point else 0.0
    return 0.0 if math.isnan(cost) else cost


def _base_row(run: RunResult, drop: float, policy: str) -> dict:
    full_val = run.val_policy_rows("fixed")
    full_val = full_val[full_val["param"] == run.T]
    full_val_accuracy = 100.0 * float(full_val["accuracy"].iloc[0]) if len(full_val) else math.nan
    return {
        "run": run.run,
        "model": run.paper_model,
        "method": run.method,
        "dataset": run.dataset,
        "dataset_label": run.label,
        "T": run.T,
        "n_val": run.n_val,
        "n_test": run.n_test,
        "full_val_accuracy": full_val_accuracy,
        "full_accuracy": 100.0 * float(run.accuracy_per_t[-1]),
        "aet": run.aet,
        "drop_pts": float(drop),
        "target_val_accuracy": full_val_accuracy - drop,
        "policy": policy,
        "policy_label": POLICY_LABELS.get(policy, policy),
        "status": NO_VALIDATION,
    }


def _choose(run: RunResult, policy: str, target: float) -> tuple[str, pd.Series | None]:
    """(status, the test-set sweep row of the point chosen on validation for `target`, a fraction)."""
    if policy == "oracle":
        rows = run.policy_rows("oracle")
        return REFERENCE, rows.iloc[0]
    if run.val_sweep is None:
        return NO_VALIDATION, None
    chosen = matched_point(run.val_policy_rows(policy), target)
    if chosen is None:
        return NOT_REACHED, None
    return REACHED, tested_point(run, policy, chosen)


def tested_point(run: RunResult, policy: str, chosen: pd.Series) -> pd.Series:
    """The test-set sweep row of a point chosen on validation (`chosen`: its val_sweep.csv row), with the
    validation accuracy and average timesteps beside it as `val_accuracy`, `val_avg_timesteps`."""
    test = run.policy_rows(policy)
    hit = test[np.isclose(test["param"], float(chosen["param"]))]
    if hit.empty:
        raise ValueError(
            f"run {run.run}: {policy} at {chosen['param']:g} is in val_sweep.csv but not in sweep.csv"
        )
    return pd.concat([hit.iloc[0], chosen[["accuracy", "avg_timesteps"]].add_prefix("val_")])


def _point_row(run: RunResult, policy: str, point: pd.Series) -> dict:
    cost = _cost(point)
    avg = float(point["avg_timesteps"]) + cost
    row = {
        "param": float(point["param"]),
        "accuracy": 100.0 * float(point["accuracy"]),
        "accuracy_low": 100.0 * float(point.get("accuracy_low", math.nan)),
        "accuracy_high": 100.0 * float(point.get("accuracy_high", math.nan)),
        "avg_timesteps": avg,
        "reduction": run.T / avg,
    }
    if "val_accuracy" in point:
        row.update(
            val_accuracy=100.0 * float(point["val_accuracy"]),
            val_avg_timesteps=float(point["val_avg_timesteps"]) + cost,
        )
    return row


def _versus_full(run: RunResult, policy: str, param: float) -> dict:
    """Exact McNemar test of the point against the full-T SNN on the test inputs."""
    if run.decisions is None:
        return {}
    mine, full = run.decisions.find(policy, param), run.decisions.find("fixed", float(run.T))
    if mine is None or full is None:
        return {}
    test = mcnemar(full[1], mine[1])
    identical = policy == "oracle" or (policy == "fixed" and param == run.T)  # equal by construction
    return {
        "delta_accuracy_vs_full": 100.0 * test.delta / run.n_test,
        "mcnemar_b": test.b,
        "mcnemar_c": test.c,
        "mcnemar_p": math.nan if identical else test.p,
    }


def _versus_seenn1(run: RunResult, policy: str, point: pd.Series, seenn1: pd.Series | None) -> dict:
    """Paired t test of the point's per-input exit steps (plus a policy network's cost) against SEENN-I's
    chosen point at the same target."""
    if run.decisions is None or seenn1 is None or policy == "seenn1":
        return {}
    mine = run.decisions.find(policy, float(point["param"]))
    reference = run.decisions.find("seenn1", float(seenn1["param"]))
    if mine is None or reference is None:
        return {}
    diff = paired_t(mine[0] + _cost(point), reference[0])
    return {
        "delta_timesteps_vs_seenn1": diff.estimate,
        "delta_timesteps_low": diff.low,
        "delta_timesteps_high": diff.high,
        "delta_timesteps_p": diff.p,
        "_seenn1_param": float(seenn1["param"]),
    }


def _holm_by_comparison(tidy: pd.DataFrame, p: str, keys: list[str]) -> pd.Series:
    """Holm-adjusted `p` over the distinct comparisons (`keys` name one; a point chosen at several targets
    is one test), mapped back to every row."""
    tested = tidy.dropna(subset=[p]).drop_duplicates(keys)
    adjusted = pd.Series(holm(tested[p].to_numpy()), index=pd.MultiIndex.from_frame(tested[keys]))
    index = pd.MultiIndex.from_frame(tidy[keys])
    return pd.Series(adjusted.reindex(index).to_numpy(), index=tidy.index)


def comparison(runs: Sequence[RunResult], drops_pts: Sequence[float] = DROPS_PTS) -> pd.DataFrame:
    """Tidy frame: one row per (run, target, policy), each point chosen on the run's validation sweep and
    evaluated on its test sweep and decisions (accuracies in %)."""
    rows = []
    for run in runs:
        policies = policy_order(run.sweep["policy"].unique())
        for drop in usable_drops(drops_pts, run.n_val, run.n_test):
            base = {policy: _base_row(run, drop, policy) for policy in policies}
            target = base[policies[0]]["target_val_accuracy"] / 100.0
            chosen = {policy: _choose(run, policy, target) for policy in policies}
            for policy in policies:
                status, point = chosen[policy]
                row = {**base[policy], "status": status}
                if point is not None:
                    row.update(_point_row(run, policy, point))
                    row.update(_versus_full(run, policy, float(point["param"])))
                    row.update(_versus_seenn1(run, policy, point, chosen.get("seenn1", (None, None))[1]))
                rows.append(row)
    tidy = pd.DataFrame(rows, columns=[*TIDY_COLUMNS, "_seenn1_param"])
    tidy["mcnemar_p_holm"] = _holm_by_comparison(tidy, "mcnemar_p", ["run", "policy", "param"])
    tidy["delta_timesteps_p_holm"] = _holm_by_comparison(
        tidy, "delta_timesteps_p", ["run", "policy", "param", "_seenn1_param"]
    )
    for flag, p in (
        ("significant_vs_full", "mcnemar_p_holm"),
        ("significant_vs_seenn1", "delta_timesteps_p_holm"),
    ):
        tidy[flag] = tidy[p].map(lambda v: math.nan if math.isnan(v) else bool(v < LEVEL)).astype(object)
    return tidy[TIDY_COLUMNS]
