"""The exit sweep: every operating point of every policy, computed from saved per-step outputs only."""

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from pipeline.core.atomic import write_atomic, write_json_atomic
from pipeline.core.config import SweepParams
from pipeline.core.errors import StageError
from pipeline.exits.metrics import aet, correct_per_timestep, empirical_aet, first_correct_step
from pipeline.exits.cutoff import cutoff_points
from pipeline.exits.points import POINT_COLUMNS, Point, decisions_arrays, points_table
from pipeline.exits.policies import SWEEP_COLUMNS, fixed_exit, seenn1_exit  # noqa: F401 (SWEEP_COLUMNS re-exported)
from pipeline.exits.stats import BOOTSTRAP_SAMPLES, BOOTSTRAP_SEED


def seenn1_points(
    logits: np.ndarray, alphas: Sequence[float], accumulate: str = "sum", temperature: float = 1.0
) -> list[Point]:
    """Fixed-T points (param = T, every T) and SEENN-I points (param = alpha, sorted, unique)."""
    T = logits.shape[0]
    points = [Point("fixed", float(t), fixed_exit(logits, t)) for t in range(1, T + 1)]
    alphas = sorted(set(float(a) for a in alphas))
    return points + [Point("seenn1", a, seenn1_exit(logits, a, accumulate, temperature)) for a in alphas]


def exit_shares_table(points: Sequence[Point], T: int) -> pd.DataFrame:
    """SEENN-I's share of inputs stopping at each t (the Figure 4 pies): policy, param, t, share."""
    rows = [
        ("seenn1", p.param, t + 1, float(s))
        for p in points
        if p.policy == "seenn1"
        for t, s in enumerate(p.decision.exit_shares(T))
    ]
    return pd.DataFrame(rows, columns=["policy", "param", "t", "share"])


def sweep_rows(
    logits: np.ndarray,
    labels: np.ndarray,
    alphas: Sequence[float],
    accumulate: str = "sum",
    temperature: float = 1.0,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """`(sweep, shares)` of the fixed-T and SEENN-I points: sweep.csv lines (`POINT_COLUMNS`, accuracy a
    fraction, with intervals) and exit_shares.csv lines."""
    points = seenn1_points(logits, alphas, accumulate, temperature)
    return points_table(points, labels), exit_shares_table(points, logits.shape[0])


def aet_summary(logits: np.ndarray, labels: np.ndarray, samples: int = BOOTSTRAP_SAMPLES) -> dict[str, float]:
    """AET (eq. 4) and empirical AET (eq. 13) with 95 % intervals from a bootstrap over the test inputs
    (AET is a function of the correct counts, not a mean of per-input values), and T."""
    correct = correct_per_timestep(logits, labels).astype(np.float64)  # [T, N]
    first = first_correct_step(logits, labels).astype(np.float64)  # [N]
    T, n = correct.shape
    steps = np.arange(1, T + 1, dtype=np.float64)
    rng = np.random.default_rng(BOOTSTRAP_SEED)
    draws = []
    for start in range(0, samples, 250):  # each resample as multiplicities w [k, N] of the inputs
        w = np.stack(
            [np.bincount(rng.integers(0, n, n), minlength=n) for _ in range(min(250, samples - start))]
        )
        counts = w @ correct.T  # [k, T]: c[t] of each resample
        newly = np.diff(counts, axis=1, prepend=0.0)
        aet_k = (newly @ steps + T * (n - counts[:, -1])) / n  # eq. 4 on each resample
        draws.append(np.stack([aet_k, w @ first / n], axis=1))
    low, high = np.quantile(np.concatenate(draws), [0.025, 0.975], axis=0)
    return {
        "aet": aet(logits, labels),
        "aet_low": float(low[0]),
        "aet_high": float(high[0]),
        "empirical_aet": empirical_aet(logits, labels),
        "empirical_aet_low": float(low[1]),
        "empirical_aet_high": float(high[1]),
        "T": int(logits.shape[0]),
    }


@dataclass(frozen=True)
class RunSweep:
    """Everything the sweep stage writes for one run folder."""

    run: str  # the run's name (run.json)
    table: pd.DataFrame  # sweep.csv: every policy's operating points, with intervals
    shares: pd.DataFrame  # exit_shares.csv: SEENN-I's share of inputs stopping at each t
    summary: dict  # aet.json: AET, empirical AET (with intervals), T
    decisions: dict[str, np.ndarray]  # decisions.npz: every point's per-input exit steps and correctness
    val_table: pd.DataFrame  # val_sweep.csv: the same points on the validation split (no lines without one)


def load_logits(run_dir: Path) -> tuple[np.ndarray, np.ndarray, dict]:
    """`timestep_logits.npz` (`logits [T, N, C]`, `labels [N]`) and `run.json` of a run folder."""
    npz, meta = run_dir / "timestep_logits.npz", run_dir / "run.json"
    for f in (npz, meta):
        if not f.is_file():
            raise StageError(f"{f} is missing: run the training or convert stage of this run first")
    with np.load(npz) as z:
        return z["logits"], z["labels"], json.loads(meta.read_text())


def _optional_logits(path: Path) -> tuple[np.ndarray | None, np.ndarray | None]:
    """`(logits [T, N, C], labels [N])` of an optional outputs file; `(None, None)` when it is absent or
    holds no inputs."""
    if not path.is_file():
        return None, None
    with np.load(path) as z:
        logits, labels = z["logits"], z["labels"]
    return (None, None) if len(labels) == 0 else (logits, labels)


def policy_points(
    logits: np.ndarray,
    labels: np.ndarray,
    train: tuple[np.ndarray | None, np.ndarray | None],
    settings: SweepParams,
    alpha: float,
    temperature: float,
) -> list[Point]:
    """Every operating point on one set of outputs `logits [T, N, C]`: fixed T, SEENN-I over
    `settings.alphas` and `alpha`, and SNNCutoff's Top-K (calibrated on `train` outputs when given),
    entropy and oracle."""
    points = seenn1_points(logits, [*settings.alphas, alpha], settings.accumulate, temperature)
    return points + cutoff_points(
        logits,
        labels,
        *train,
        settings.topk_betas,
        settings.cutoff_epsilons,
        settings.entropy_thresholds,
        settings.entropy_temperature,  # the released entropy rule has no temperature, converted nets too
        settings.accumulate,
        calibration_grid=settings.calibration_grid,
    )


def sweep_run(run_dir: Path, settings: SweepParams, alpha: float) -> RunSweep:
    """Every exit operating point of one run from its saved outputs (no network pass), on the test set
    and, when the run has `val_logits.npz` with inputs, on the validation split: fixed T, SEENN-I over
    `settings.alphas` and the headline `alpha`, and SNNCutoff's Top-K (calibrated on the run's
    `train_logits.npz` when it has one), entropy and oracle rows."""
    logits, labels, meta = load_logits(run_dir)
    conversion = meta["method"] == "conversion"
    temperature = settings.conversion_temperature if conversion else settings.direct_temperature
    train = _optional_logits(run_dir / "train_logits.npz")
    points = policy_points(logits, labels, train, settings, alpha, temperature)
    val_logits, val_labels = _optional_logits(run_dir / "val_logits.npz")
    if val_logits is not None and val_logits.shape[::2] != logits.shape[::2]:
        raise StageError(
            f"{run_dir / 'val_logits.npz'}: logits {val_logits.shape} do not match the test outputs' "
            f"[T={logits.shape[0]}, N, C={logits.shape[2]}]"
        )
    val_table = (
        pd.DataFrame(columns=POINT_COLUMNS)
        if val_logits is None
        else points_table(
            policy_points(val_logits, val_labels, train, settings, alpha, temperature), val_labels
        )
    )
    return RunSweep(
        meta["run"],
        points_table(points, labels),
        exit_shares_table(points, logits.shape[0]),
        aet_summary(logits, labels),
        decisions_arrays(points, labels),
        val_table,
    )


def write_run_sweep(run_dir: Path, result: RunSweep) -> None:
    """The files of a run's sweep, each replaced atomically: sweep.csv, val_sweep.csv, exit_shares.csv,
    decisions.npz and aet.json."""
    tables = {"sweep.csv": result.table, "val_sweep.csv": result.val_table, "exit_shares.csv": result.shares}
    for name, table in tables.items():
        write_atomic(run_dir / name, lambda tmp, t=table: t.to_csv(tmp, index=False, float_format="%.6g"))
    write_atomic(run_dir / "decisions.npz", lambda tmp: np.savez_compressed(tmp, **result.decisions))
    write_json_atomic(run_dir / "aet.json", result.summary)
