"""Accuracy per timestep, AET (paper eq. 4) and empirical AET (paper eq. 13).

Everything here works on the saved per-timestep classifier outputs `logits [T, N, C]` (each step's own
output, not accumulated) and `labels [N]`; accumulation is done here so that a sweep never re-runs a net.
"""

import numpy as np


def accumulate(logits: np.ndarray, mode: str = "sum") -> np.ndarray:
    """Running output f_t(x) over the first t steps, `[T, N, C]`.

    `sum` is what the released code uses; `mean` is paper eq. 3. Their argmax is identical; softmax
    confidences are not.
    """
    if mode not in ("sum", "mean"):
        raise ValueError(f"accumulate mode must be 'sum' or 'mean', got {mode!r}")
    running = np.cumsum(logits.astype(np.float64), axis=0)  # [T, N, C]
    if mode == "mean":
        running /= np.arange(1, logits.shape[0] + 1, dtype=np.float64)[:, None, None]
    return running


def correct_per_timestep(logits: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """`[T, N]` bool: is the argmax of the accumulated output after t steps the label?"""
    predictions = accumulate(logits).argmax(axis=-1)  # [T, N]
    return predictions == labels[None, :]


def accuracy_per_timestep(logits: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """`[T]` accuracy (fraction) of the accumulated output with t = 1..T steps."""
    return correct_per_timestep(logits, labels).mean(axis=1)


def aet(logits: np.ndarray, labels: np.ndarray) -> float:
    """Averaged earliest timestep, paper eq. 4, from the counts c[t] of correct samples.

    AET = (1*c[1] + sum_{t>=2} t*(c[t] - c[t-1]) + T*(N - c[T])) / N. Under Assumption 3.1 this is the
    mean first-correct step; when a sample flips (right, wrong, right) it can differ from the empirical AET.
    """
    correct = correct_per_timestep(logits, labels)  # [T, N]
    T, N = correct.shape
    counts = correct.sum(axis=1).astype(np.float64)  # c[t], t = 1..T
    steps = np.arange(1, T + 1, dtype=np.float64)
    newly_correct = np.diff(counts, prepend=0.0)  # c[1], c[2]-c[1], ...
    return float((steps @ newly_correct + T * (N - counts[-1])) / N)


def first_correct_step(logits: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """`[N]` 1-based first step whose accumulated prediction is right; T where none is."""
    correct = correct_per_timestep(logits, labels)  # [T, N]
    T = correct.shape[0]
    first = correct.argmax(axis=0) + 1
    return np.where(correct.any(axis=0), first, T)


def empirical_aet(logits: np.ndarray, labels: np.ndarray) -> float:
    """Empirical AET, paper eq. 13: mean over samples of the first correct step (T if never correct)."""
    return float(first_correct_step(logits, labels).mean())
