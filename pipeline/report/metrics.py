"""The numbers `dvc metrics show` and `dvc exp show` list: per run, full-T accuracy, SEENN-I at the headline
alpha, SEENN-II at the headline beta (where the run has a policy), AET; and the hardware stage's latency,
throughput and energy per operating point."""

from collections.abc import Sequence

import pandas as pd

from pipeline.core.errors import StageError
from pipeline.report.results import RunResult


def _interval(rows, prefix: str) -> dict:
    """`{<prefix>_low, <prefix>_high}`: the 95 % Wilson interval of an accuracy in %, 2 decimals (NaN when
    the sweep has none)."""
    if "accuracy_low" not in rows.columns:
        return {f"{prefix}_low": float("nan"), f"{prefix}_high": float("nan")}
    low, high = float(rows.accuracy_low.iloc[0]), float(rows.accuracy_high.iloc[0])
    return {f"{prefix}_low": round(100 * low, 2), f"{prefix}_high": round(100 * high, 2)}


def headline_metrics(runs: Sequence[RunResult], alpha: float, beta: float) -> dict:
    """Per run, the few numbers worth a column in `dvc exp show` (accuracies in %, 2 decimals; average
    timesteps and AET, 3 decimals): `acc` at full T, SEENN-I's `s1_acc` and `s1_T` at the headline
    alpha, SEENN-II's `s2_acc` and `s2_T` at the headline beta (runs with a policy), and `aet`; each
    accuracy's `_low` / `_high` is its 95 % Wilson interval over the test inputs. The alpha and beta
    themselves are params, which `dvc exp show` lists beside."""
    out = {}
    for r in runs:
        s1 = r.policy_rows("seenn1")
        at = s1[s1.param == alpha]
        if at.empty:
            raise StageError(
                f"{r.run}/sweep.csv has no SEENN-I row for alpha={alpha}: re-run its sweep stage"
            )
        fixed = r.policy_rows("fixed")
        full = fixed[fixed.param == r.T]
        row = {
            "acc": round(100 * float(r.accuracy_per_t[-1]), 2),
            **_interval(full, "acc"),
            "s1_acc": round(100 * float(at.accuracy.iloc[0]), 2),
            **_interval(at, "s1_acc"),
            "s1_T": round(float(at.avg_timesteps.iloc[0]), 3),
        }
        s2 = r.policy_rows("seenn2")
        at2 = s2[s2.param == beta]
        if not at2.empty:
            row["s2_acc"] = round(100 * float(at2.accuracy.iloc[0]), 2)
            row.update(_interval(at2, "s2_acc"))
            row["s2_T"] = round(float(at2.avg_timesteps.iloc[0]), 3)
        out[r.run] = {**row, "aet": round(r.aet, 3)}
    return out


def hardware_metrics(table: pd.DataFrame, alpha: float, device: str, batch_size: int, threads: int) -> dict:
    """Per run and policy: the headline numbers `dvc metrics show` lists."""
    out: dict = {}
    for r in table.itertuples(index=False):
        key = r.policy if r.policy != "seenn2" else f"seenn2_b{r.param:g}"
        out.setdefault(r.run, {})[key] = {
            "accuracy": round(float(r.accuracy), 6),
            "avg_timesteps": round(float(r.avg_timesteps), 6),
            "latency_ms": round(float(r.latency_ms), 6),
            "throughput": round(float(r.throughput), 2),
            "energy_nj": round(float(r.energy_pj) / 1e3, 4),
            "speedup": round(float(r.speedup), 4),
            "energy_ratio": round(float(r.energy_ratio), 4),
        }
    return {"alpha": alpha, "device": device, "batch_size": batch_size, "threads": threads, "runs": out}
