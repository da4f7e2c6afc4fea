"""Exit policies over saved per-timestep outputs `logits [T, N, C]`.

A policy decides, for every sample, the 1-based step at which inference stops; the prediction is the
argmax of the accumulated output at that step. Policies are registered by name so the sweep, the tables
and (later) the batched engine share one definition of each rule.
"""

from dataclasses import dataclass

import numpy as np

from pipeline.exits.metrics import accumulate
from pipeline.core.registry import Registry


SWEEP_COLUMNS = ["policy", "param", "accuracy", "avg_timesteps"]  # one operating point of a policy


@dataclass(frozen=True)
class ExitDecision:
    """Per-sample outcome of an exit policy."""

    exit_step: np.ndarray  # [N] int64, 1-based step at which the sample stops
    prediction: np.ndarray  # [N] int64, argmax of the accumulated output at exit_step

    def accuracy(self, labels: np.ndarray) -> float:
        return float((self.prediction == labels).mean())

    def avg_timesteps(self) -> float:
        return float(self.exit_step.mean())

    def exit_shares(self, T: int) -> np.ndarray:
        """`[T]` fraction of samples that stop at t = 1..T (the paper's Figure 4 pie charts)."""
        return np.bincount(self.exit_step - 1, minlength=T)[:T] / len(self.exit_step)


def _decide(running: np.ndarray, exit_step: np.ndarray) -> ExitDecision:
    """Pick the accumulated output `running [T, N, C]` at each sample's exit step."""
    rows = np.arange(running.shape[1])
    prediction = running[exit_step - 1, rows].argmax(axis=-1)
    return ExitDecision(exit_step=exit_step.astype(np.int64), prediction=prediction.astype(np.int64))


def first_true_step(stop: np.ndarray) -> np.ndarray:
    """`stop [T, N]` bool -> `[N]` first 1-based step where it holds; T when it never does (last-step
    fallback: every sample has stopped after T steps)."""
    stop = stop.copy()
    stop[-1] = True
    return stop.argmax(axis=0) + 1


EXIT_POLICIES: Registry = Registry("exit policy")


@EXIT_POLICIES.register("fixed")
def fixed_exit(logits: np.ndarray, timesteps: int) -> ExitDecision:
    """Every sample runs exactly `timesteps` steps (the conventional SNN)."""
    T = logits.shape[0]
    if not 1 <= timesteps <= T:
        raise ValueError(f"timesteps must be in 1..{T}, got {timesteps}")
    running = accumulate(logits)
    return _decide(running, np.full(logits.shape[1], timesteps, dtype=np.int64))


def softmax_confidence(running: np.ndarray, temperature: float = 1.0) -> np.ndarray:
    """`[T, N]` max softmax probability of `running / temperature` (paper eq. 5)."""
    z = running / temperature
    z = z - z.max(axis=-1, keepdims=True)
    p = np.exp(z)
    return (p / p.sum(axis=-1, keepdims=True)).max(axis=-1)


@EXIT_POLICIES.register("seenn1")
def seenn1_exit(
    logits: np.ndarray, alpha: float, accumulate_mode: str = "sum", temperature: float = 1.0
) -> ExitDecision:
    """SEENN-I: stop at the first t whose confidence max softmax(f_t(x) / temperature) exceeds alpha.

    Strictly greater, as in paper sec. 3.3; a sample never confident enough stops at T. The released code
    scores the running *sum* of logits, with temperature 8 for converted SNNs; `accumulate_mode='mean'`
    with temperature 1 is the paper's eq. 3 average.
    """
    if not 0.0 < alpha < 1.0:
        raise ValueError(f"alpha must be in (0, 1), got {alpha}")
    running = accumulate(logits, accumulate_mode)  # [T, N, C]
    confident = softmax_confidence(running, temperature) > alpha  # [T, N]
    return _decide(running, first_true_step(confident))


@EXIT_POLICIES.register("seenn2")
def chosen_exit(logits: np.ndarray, exit_step: np.ndarray) -> ExitDecision:
    """SEENN-II: each input runs the number of steps its policy chose (`exit_step [N]`, 1-based) before
    the SNN started; the prediction is the accumulated output after that many steps."""
    T = logits.shape[0]
    exit_step = np.asarray(exit_step, dtype=np.int64)
    if exit_step.shape != (logits.shape[1],) or exit_step.min() < 1 or exit_step.max() > T:
        raise ValueError(f"exit_step must be [N] = [{logits.shape[1]}] steps in 1..{T}")
    return _decide(accumulate(logits), exit_step)
