"""The exit sweep: every operating point of every policy, computed from saved per-step outputs only."""

from collections.abc import Sequence

import numpy as np
import pandas as pd

from pipeline.exits.policies import fixed_exit, seenn1_exit
from pipeline.exits.metrics import aet, empirical_aet

SWEEP_COLUMNS = ["policy", "param", "accuracy", "avg_timesteps"]


def sweep_rows(
    logits: np.ndarray,
    labels: np.ndarray,
    alphas: Sequence[float],
    accumulate: str = "sum",
    temperature: float = 1.0,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Fixed-T rows (param = T, every T) and SEENN-I rows (param = alpha, sorted, unique).

    Returns `(sweep, shares)`: sweep has columns policy,param,accuracy,avg_timesteps (accuracy a
    fraction); shares has policy,param,t,share, the fraction of inputs stopping at each t.
    """
    T = logits.shape[0]
    rows, shares = [], []
    for t in range(1, T + 1):
        d = fixed_exit(logits, t)
        rows.append(("fixed", float(t), d.accuracy(labels), d.avg_timesteps()))
    for alpha in sorted(set(float(a) for a in alphas)):
        d = seenn1_exit(logits, alpha, accumulate, temperature)
        rows.append(("seenn1", alpha, d.accuracy(labels), d.avg_timesteps()))
        shares += [("seenn1", alpha, t + 1, float(s)) for t, s in enumerate(d.exit_shares(T))]
    return (
        pd.DataFrame(rows, columns=SWEEP_COLUMNS),
        pd.DataFrame(shares, columns=["policy", "param", "t", "share"]),
    )


def aet_summary(logits: np.ndarray, labels: np.ndarray) -> dict[str, float]:
    return {"aet": aet(logits, labels), "empirical_aet": empirical_aet(logits, labels), "T": int(logits.shape[0])}


def headline(
    logits: np.ndarray, labels: np.ndarray, alpha: float, accumulate: str = "sum", temperature: float = 1.0
) -> dict[str, float]:
    """The operating point `dvc metrics show` lists: full-T accuracy, SEENN-I at the headline alpha, AET."""
    T = logits.shape[0]
    full = fixed_exit(logits, T)
    s1 = seenn1_exit(logits, alpha, accumulate, temperature)
    return {
        "T": T,
        "fixed_accuracy": round(full.accuracy(labels), 6),
        "seenn1_alpha": alpha,
        "seenn1_accuracy": round(s1.accuracy(labels), 6),
        "seenn1_avg_timesteps": round(s1.avg_timesteps(), 6),
        "aet": round(aet(logits, labels), 6),
        "empirical_aet": round(empirical_aet(logits, labels), 6),
    }
