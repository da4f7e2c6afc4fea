"""SNNCutoff exit policies (Wu et al., 2025) over saved per-step outputs `logits [T, N, C]`.

- `topk`: stop at the first t whose top-1 minus top-2 gap of the running *sum* of raw logits exceeds beta_t.
- `topk_calibrated`: `topk` with per-step thresholds calibrated on the training set (`calibrate_topk`).
- `entropy`: stop when the normalised-entropy score 1 - H(p) / log C of the running output exceeds a
  threshold (the score the released SEENN code also has).
- `oracle`: the "optimal cutoff timestep", the earliest step after which the prediction stays correct; it
  reads the labels, so it is a bound to compare against, not a deployable policy.

Every rule is strict (`>`): a score exactly at the threshold does not stop, and every sample stops at T.
The policies are registered in `pipeline.exits.policies.EXIT_POLICIES` when this module is imported.
"""

from collections.abc import Sequence

import numpy as np
import pandas as pd

from pipeline.exits.metrics import accumulate, correct_per_timestep
from pipeline.exits.points import Point, points_table
from pipeline.exits.policies import EXIT_POLICIES, ExitDecision, _decide, first_true_step


def topk_gap(logits: np.ndarray) -> np.ndarray:
    """`[T, N]` top-1 minus top-2 of the running sum of raw logits (no softmax)."""
    if logits.shape[-1] < 2:
        raise ValueError(f"the top-k gap needs at least 2 classes, got C = {logits.shape[-1]}")
    running = accumulate(logits)  # [T, N, C]
    top2 = np.partition(running, -2, axis=-1)[..., -2:]  # [T, N, 2]: second largest, largest
    return top2[..., 1] - top2[..., 0]


def _per_step(beta: float | Sequence[float] | np.ndarray, T: int) -> np.ndarray:
    """A scalar threshold or one per step -> `[T, 1]`, ready to compare with a `[T, N]` score."""
    beta = np.asarray(beta, dtype=np.float64)
    if beta.ndim == 0:
        beta = np.full(T, float(beta))
    if beta.shape != (T,):
        raise ValueError(f"beta must be a scalar or one value per step ({T}), got shape {beta.shape}")
    if np.isnan(beta).any():
        raise ValueError("beta must not be NaN")
    return beta[:, None]


@EXIT_POLICIES.register("topk")
def topk_exit(logits: np.ndarray, beta: float | Sequence[float] | np.ndarray) -> ExitDecision:
    """Top-K cutoff: stop at the first t with gap(t) > beta_t (strictly), otherwise at T.

    Args:
        logits: per-step outputs `[T, N, C]`.
        beta: one threshold for every step, or `[T]` thresholds (beta_T is never needed: T always stops;
            `inf` at a step means no sample stops there).
    """
    gap = topk_gap(logits)  # [T, N]
    return _decide(accumulate(logits), first_true_step(gap > _per_step(beta, logits.shape[0])))


def settled(logits: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """`[T, N]` bool: the accumulated prediction is correct at t and at every later step through T."""
    correct = correct_per_timestep(logits, labels)  # [T, N]
    # A reversed running AND: settled[t] = correct[t] & correct[t + 1] & ... & correct[T - 1].
    return np.logical_and.accumulate(correct[::-1], axis=0)[::-1]


CALIBRATION_GRIDS = ("snncutoff", "per_step")


def calibrate_topk(
    train_logits: np.ndarray,
    train_labels: np.ndarray,
    epsilon: float,
    n_candidates: int = 100,
    grid: str = "snncutoff",
) -> np.ndarray:
    """Per-step Top-K thresholds beta_t from the training set (SNNCutoff's calibration).

    beta_t is the smallest candidate whose exited samples (gap > candidate) are settled (`settled`) at a
    rate of at least 1 - epsilon; nothing exiting never qualifies.

    - `grid="snncutoff"` (SNNCutoff's code): one candidate grid for every step,
      `m * G / n_candidates` for m = 0..n-1 with G the largest gap over all steps and samples; where no
      candidate qualifies, the last one ((n-1)/n * G) is used.
    - `grid="per_step"` (this project's earlier reading): each step's own grid over [0, max gap at t);
      where none qualifies, beta_t = +inf, so nothing stops at t.
    At the last step neither matters: every sample stops at T.

    Args:
        train_logits: per-step outputs on the training set `[T, N, C]`.
        train_labels: `[N]` labels.
        epsilon: tolerated share of unsettled exits, in [0, 1) (the paper uses 0 and 0.01).
        n_candidates: number of candidate thresholds (SNNCutoff: 100).
        grid: "snncutoff" or "per_step".

    Returns:
        `[T]` float64 thresholds.
    """
    if not 0.0 <= epsilon < 1.0:
        raise ValueError(f"epsilon must be in [0, 1), got {epsilon}")
    if n_candidates < 1:
        raise ValueError(f"n_candidates must be >= 1, got {n_candidates}")
    if grid not in CALIBRATION_GRIDS:
        raise ValueError(f"grid must be one of {', '.join(CALIBRATION_GRIDS)}, got {grid!r}")
    gap = topk_gap(train_logits)  # [T, N]
    ok = settled(train_logits, train_labels)  # [T, N]
    shared = np.arange(n_candidates) * gap.max() / n_candidates  # [K]: 0, G/n, ..., (n-1)G/n
    betas = np.full(gap.shape[0], np.inf if grid == "per_step" else shared[-1])
    for t in range(gap.shape[0]):
        if grid == "per_step":
            candidates = np.linspace(0.0, gap[t].max(), n_candidates, endpoint=False)  # [K], ascending
        else:
            candidates = shared
        exited = gap[t][None, :] > candidates[:, None]  # [K, N]
        n_exited = exited.sum(axis=1)
        n_settled = (exited & ok[t][None, :]).sum(axis=1)
        # Counts, not a rate, so that 0/0 (nothing exits) never qualifies; 1e-9 absorbs float error in
        # 1 - epsilon (e.g. 99 of 100 settled with epsilon = 0.01 qualifies).
        qualifies = (n_exited > 0) & (n_settled >= (1.0 - epsilon) * n_exited - 1e-9)
        if qualifies.any():
            betas[t] = candidates[np.argmax(qualifies)]
    return betas


@EXIT_POLICIES.register("topk_calibrated")
def topk_calibrated_exit(
    logits: np.ndarray,
    train_logits: np.ndarray,
    train_labels: np.ndarray,
    epsilon: float,
    n_candidates: int = 100,
    grid: str = "snncutoff",
) -> ExitDecision:
    """Top-K cutoff with the thresholds `calibrate_topk` fits on the training outputs."""
    if train_logits.shape[0] != logits.shape[0]:
        raise ValueError(f"train_logits have T = {train_logits.shape[0]}, logits T = {logits.shape[0]}")
    return topk_exit(logits, calibrate_topk(train_logits, train_labels, epsilon, n_candidates, grid))


def entropy_score(running: np.ndarray, temperature: float = 1.0) -> np.ndarray:
    """`[T, N]` 1 - H(softmax(running / temperature)) / log C, in [0, 1]: 1 for a one-hot output."""
    C = running.shape[-1]
    if C < 2:
        raise ValueError(f"the entropy score needs at least 2 classes, got C = {C}")
    z = running / temperature
    z = z - z.max(axis=-1, keepdims=True)  # <= 0, so exp never overflows
    e = np.exp(z)
    total = e.sum(axis=-1)
    # H = -sum p log p with log p = z - log(total): finite for one-hot outputs, exactly log C when uniform.
    entropy = np.log(total) - (e * z).sum(axis=-1) / total
    return 1.0 - entropy / np.log(C)


@EXIT_POLICIES.register("entropy")
def entropy_exit(
    logits: np.ndarray, threshold: float, accumulate_mode: str = "sum", temperature: float = 1.0
) -> ExitDecision:
    """Stop at the first t whose entropy score (`entropy_score`) exceeds `threshold`, otherwise at T.

    The released code scores the running sum with no temperature, for directly trained and converted
    SNNs alike (its temperature of 8 belongs to SEENN-I's confidence of converted SNNs only).
    """
    if not 0.0 <= threshold < 1.0:
        raise ValueError(f"threshold must be in [0, 1), got {threshold}")
    if temperature <= 0:
        raise ValueError(f"temperature must be > 0, got {temperature}")
    running = accumulate(logits, accumulate_mode)  # [T, N, C]
    return _decide(running, first_true_step(entropy_score(running, temperature) > threshold))


def oracle_steps(logits: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """`[N]` optimal cutoff step: the first t from which the prediction stays correct through T (T if
    wrong at T)."""
    return first_true_step(settled(logits, labels))


@EXIT_POLICIES.register("oracle")
def oracle_exit(logits: np.ndarray, labels: np.ndarray) -> ExitDecision:
    """Optimal cutoff timestep (reads the labels). Its accuracy equals the full-T accuracy, and its exit
    steps are, sample by sample, the earliest of any decision that stops full-T-correct samples only
    once they are settled and runs full-T-wrong samples to T. A label-free policy can still beat it at
    equal average steps by stopping a sample that is right early and wrong at T."""
    return _decide(accumulate(logits), oracle_steps(logits, labels))


def cutoff_points(
    test_logits: np.ndarray,
    test_labels: np.ndarray,
    train_logits: np.ndarray | None,
    train_labels: np.ndarray | None,
    topk_betas: Sequence[float],
    epsilons: Sequence[float],
    entropy_thresholds: Sequence[float],
    entropy_temperature: float = 1.0,
    accumulate_mode: str = "sum",
    n_candidates: int = 100,
    calibration_grid: str = "snncutoff",
) -> list[Point]:
    """The SNNCutoff policies' operating points on the test set.

    Points: `topk` (param = beta), `topk_calibrated` (param = epsilon; thresholds fitted on the training
    outputs, left out when `train_logits` is None), `entropy` (param = threshold) and one `oracle` point
    (param = 0). Each grid is sorted and de-duplicated.
    """
    rows: list[Point] = []

    def add(policy: str, param: float, decision: ExitDecision) -> None:
        rows.append(Point(policy, float(param), decision))

    for beta in sorted(set(float(b) for b in topk_betas)):
        add("topk", beta, topk_exit(test_logits, beta))
    if train_logits is not None:
        if train_labels is None:
            raise ValueError("train_logits were given without train_labels")
        for epsilon in sorted(set(float(e) for e in epsilons)):
            decision = topk_calibrated_exit(
                test_logits, train_logits, train_labels, epsilon, n_candidates, calibration_grid
            )
            add("topk_calibrated", epsilon, decision)
    for threshold in sorted(set(float(h) for h in entropy_thresholds)):
        add("entropy", threshold, entropy_exit(test_logits, threshold, accumulate_mode, entropy_temperature))
    add("oracle", 0.0, oracle_exit(test_logits, test_labels))
    return rows


def cutoff_rows(test_logits: np.ndarray, test_labels: np.ndarray, *args, **kwargs) -> pd.DataFrame:
    """`cutoff_points` as sweep.csv lines (`pipeline.exits.points.POINT_COLUMNS`)."""
    return points_table(cutoff_points(test_logits, test_labels, *args, **kwargs), test_labels)
