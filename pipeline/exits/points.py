"""Operating points: one policy at one parameter on one test set, with the per-input decisions kept, so
that every accuracy carries its interval and two policies can be compared input by input.

`sweep.csv` (and a finetune's `seenn2.csv`) hold one line per point: policy, param, accuracy, avg_timesteps
(`SWEEP_COLUMNS`), then the number of test inputs and the 95 % intervals (`INTERVAL_COLUMNS`: Wilson for
the accuracy, normal for the average timesteps). `decisions.npz` beside them holds every point's per-input
exit steps and correctness, `[P, N]`, for paired tests in the reports.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from pipeline.exits.policies import SWEEP_COLUMNS, ExitDecision
from pipeline.exits.stats import mean_interval, wilson_interval

INTERVAL_COLUMNS = ["n", "accuracy_low", "accuracy_high", "avg_timesteps_low", "avg_timesteps_high"]
POINT_COLUMNS = [*SWEEP_COLUMNS, *INTERVAL_COLUMNS]


@dataclass(frozen=True)
class Point:
    """One operating point and the decision it makes for every test input."""

    policy: str  # e.g. "fixed", "seenn1", "topk"
    param: float  # T, alpha, beta, epsilon or threshold
    decision: ExitDecision  # per-input exit steps and predictions


def points_table(points: Sequence[Point], labels: np.ndarray) -> pd.DataFrame:
    """One line per point in `POINT_COLUMNS` (accuracy and its interval as fractions)."""
    rows = []
    for p in points:
        correct = p.decision.prediction == labels
        low, high = wilson_interval(int(correct.sum()), len(labels))
        t_low, t_high = mean_interval(p.decision.exit_step)
        rows.append(
            (
                p.policy,
                float(p.param),
                float(correct.mean()),
                p.decision.avg_timesteps(),
                len(labels),
                low,
                high,
                t_low,
                t_high,
            )
        )
    return pd.DataFrame(rows, columns=POINT_COLUMNS)


def decisions_arrays(points: Sequence[Point], labels: np.ndarray) -> dict[str, np.ndarray]:
    """What `decisions.npz` holds: `policy [P]` (str), `param [P]`, `exit_step [P, N]` int16 and
    `correct [P, N]` bool, in the order of `points`."""
    return {
        "policy": np.array([p.policy for p in points]),
        "param": np.array([p.param for p in points], dtype=np.float64),
        "exit_step": np.stack([p.decision.exit_step for p in points]).astype(np.int16),
        "correct": np.stack([p.decision.prediction == labels for p in points]),
    }


@dataclass(frozen=True)
class Decisions:
    """The per-input decisions of a run's operating points, looked up by (policy, param)."""

    policy: np.ndarray  # [P] str
    param: np.ndarray  # [P] float64
    exit_step: np.ndarray  # [P, N] int16
    correct: np.ndarray  # [P, N] bool

    def find(self, policy: str, param: float) -> tuple[np.ndarray, np.ndarray] | None:
        """`(exit_step [N], correct [N])` of the point, or None if the run has no such point."""
        hits = np.flatnonzero((self.policy == policy) & np.isclose(self.param, param))
        if len(hits) == 0:
            return None
        return self.exit_step[hits[0]], self.correct[hits[0]]

    @staticmethod
    def concat(parts: Sequence["Decisions"]) -> "Decisions":
        fields = ("policy", "param", "exit_step", "correct")
        return Decisions(*(np.concatenate([getattr(d, f) for d in parts]) for f in fields))


def load_decisions(path: Path) -> Decisions:
    """Read a `decisions.npz`; a missing or broken file is one line naming it."""
    if not path.is_file():
        raise FileNotFoundError(f"{path}: missing (re-run the stage that writes it)")
    try:
        with np.load(path) as z:
            return Decisions(z["policy"].astype(str), z["param"], z["exit_step"], z["correct"].astype(bool))
    except (OSError, ValueError, KeyError) as err:
        raise ValueError(f"{path}: not a readable decisions file ({err}); re-run its stage") from err
