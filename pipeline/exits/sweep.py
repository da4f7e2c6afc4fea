"""The exit sweep: every operating point of every policy, computed from saved per-step outputs only."""

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from pipeline.core.config import SweepParams
from pipeline.core.errors import StageError
from pipeline.exits.metrics import aet, empirical_aet
from pipeline.exits.cutoff import cutoff_rows
from pipeline.exits.policies import SWEEP_COLUMNS, fixed_exit, seenn1_exit


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
    return {
        "aet": aet(logits, labels),
        "empirical_aet": empirical_aet(logits, labels),
        "T": int(logits.shape[0]),
    }


@dataclass(frozen=True)
class RunSweep:
    """Everything the sweep stage writes for one run folder."""

    run: str  # the run's name (run.json)
    table: pd.DataFrame  # sweep.csv: every policy's operating points
    shares: pd.DataFrame  # exit_shares.csv: SEENN-I's share of inputs stopping at each t
    summary: dict  # aet.json: AET, empirical AET, T


def load_logits(run_dir: Path) -> tuple[np.ndarray, np.ndarray, dict]:
    """`timestep_logits.npz` (`logits [T, N, C]`, `labels [N]`) and `run.json` of a run folder."""
    npz, meta = run_dir / "timestep_logits.npz", run_dir / "run.json"
    for f in (npz, meta):
        if not f.is_file():
            raise StageError(f"{f} is missing: run the training or convert stage of this run first")
    with np.load(npz) as z:
        return z["logits"], z["labels"], json.loads(meta.read_text())


def sweep_run(run_dir: Path, settings: SweepParams, alpha: float) -> RunSweep:
    """Every exit operating point of one run from its saved outputs (no network pass): fixed T, SEENN-I
    over `settings.alphas` and the headline `alpha`, and SNNCutoff's Top-K (calibrated on the run's
    `train_logits.npz` when it has one), entropy and oracle rows."""
    logits, labels, meta = load_logits(run_dir)
    conversion = meta["method"] == "conversion"
    temperature = settings.conversion_temperature if conversion else settings.direct_temperature
    table, shares = sweep_rows(logits, labels, [*settings.alphas, alpha], settings.accumulate, temperature)
    train_logits, train_labels = None, None
    if (run_dir / "train_logits.npz").is_file():
        with np.load(run_dir / "train_logits.npz") as z:
            train_logits, train_labels = z["logits"], z["labels"]
    cutoff = cutoff_rows(
        logits,
        labels,
        train_logits,
        train_labels,
        settings.topk_betas,
        settings.cutoff_epsilons,
        settings.entropy_thresholds,
        temperature,
        settings.accumulate,
    )
    table = pd.concat([table, cutoff], ignore_index=True)
    return RunSweep(meta["run"], table, shares, aet_summary(logits, labels))
