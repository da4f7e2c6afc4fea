"""Exit policies as the early-exit engine (`pipeline/hardware/engine.py`) evaluates them, on the device.

Planned policies know every exit step before the SNN runs and say so through `exit_steps(x, T,
batch_size) -> [N]`: `FixedT` (the conventional SNN), `GivenSteps` (SEENN-II choices made elsewhere) and
`PolicyNet` (SEENN-II's policy network). Step rules decide after each step from the running output, with
the same float64 operations as their offline twins on saved logits: `Seenn1` (`pipeline.exits.policies`), and
SNNCutoff's `TopK` and `Entropy` (`pipeline.exits.cutoff`).
"""

import math
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from pipeline.data.prepared import DatasetInfo
from pipeline.seenn2.policy import policy_input
from pipeline.seenn2.reward import choose_timesteps


@dataclass(frozen=True)
class FixedT:
    """The conventional SNN: every input runs `timesteps` steps."""

    timesteps: int  # 1-based number of steps every input runs

    def exit_steps(self, x: torch.Tensor, T: int, batch_size: int) -> torch.Tensor:
        if not 1 <= self.timesteps <= T:
            raise ValueError(f"timesteps must be in 1..{T}, got {self.timesteps}")
        return torch.full((len(x),), self.timesteps, dtype=torch.long, device=x.device)


@dataclass(frozen=True, eq=False)
class GivenSteps:
    """SEENN-II with choices made elsewhere: `steps [N]`, the 1-based exit step of every input."""

    steps: torch.Tensor | np.ndarray  # [N] integer, in input order

    def exit_steps(self, x: torch.Tensor, T: int, batch_size: int) -> torch.Tensor:
        return torch.as_tensor(self.steps).to(device=x.device, dtype=torch.long)


@dataclass(frozen=True, eq=False)
class PolicyNet:
    """SEENN-II: the policy network (an ANN on the model's device) picks each input's number of steps
    before the SNN runs: the argmax over `candidates` (paper sec. 3.4)."""

    net: nn.Module  # maps `policy_input(x)` `[1, n, C, H, W]` to `[1, n, len(candidates)]`
    candidates: tuple[int, ...]  # the action space, 1-based timesteps
    info: DatasetInfo  # how a batch becomes the policy's input (event data: the mean frame)
    input_size: int = 0  # policy input resolution, 0 = the data's own

    def exit_steps(self, x: torch.Tensor, T: int, batch_size: int) -> torch.Tensor:
        self.net.eval()
        dtype = next(self.net.parameters()).dtype
        candidates = torch.tensor(self.candidates, dtype=torch.long, device=x.device)
        chosen = []
        for start in range(0, len(x), batch_size):
            image = policy_input(x[start : start + batch_size], self.info, self.input_size).to(dtype)
            chosen.append(choose_timesteps(self.net(image)[0], candidates))  # [n]
        return torch.cat(chosen)


@dataclass(frozen=True)
class Seenn1:
    """SEENN-I (paper eq. 5): stop at the first t with max softmax(f_t / temperature) > alpha, else at T.

    `f_t` is the running sum of the per-step logits (released code) or their mean (`accumulate =
    'mean'`, paper eq. 3): the rule of `pipeline.exits.policies.seenn1_exit`.
    """

    alpha: float  # confidence threshold in (0, 1), strict >
    accumulate: str = "sum"  # "sum" (released code) or "mean" (paper eq. 3)
    temperature: float = 1.0  # released code: 8 for converted SNNs

    def __post_init__(self):
        if not 0.0 < self.alpha < 1.0:
            raise ValueError(f"alpha must be in (0, 1), got {self.alpha}")
        if self.accumulate not in ("sum", "mean"):
            raise ValueError(f"accumulate must be 'sum' or 'mean', got {self.accumulate!r}")

    def score(self, running: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        """f_t `[n, K]` float64 from the running sums `[n, K]` after `t [n]` steps."""
        return running / t[:, None].to(running.dtype) if self.accumulate == "mean" else running

    def confident(self, score: torch.Tensor, t: torch.Tensor | None = None) -> torch.Tensor:
        """`[n]` bool: max softmax of `score / temperature` strictly above alpha."""
        z = score / self.temperature if self.temperature != 1.0 else score  # x / 1.0 is exact: skipped
        z = z - z.amax(dim=-1, keepdim=True)
        return 1.0 / torch.exp(z).sum(dim=-1) > self.alpha


@dataclass(frozen=True, eq=False)
class TopK:
    """SNNCutoff's Top-K cutoff (`pipeline.exits.cutoff.topk_exit`): stop at the first t whose gap between the
    two largest summed logits exceeds beta_t (one value, or one per step as calibrated)."""

    beta: float | tuple[float, ...]  # threshold, or `[T]` thresholds

    def score(self, running: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        return running  # the gap is taken on the raw running sum

    def confident(self, score: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        top2 = score.topk(2, dim=-1).values  # [n, 2]: largest, second largest
        beta = torch.as_tensor(self.beta, dtype=score.dtype, device=score.device)
        limit = beta[t - 1] if beta.dim() == 1 else beta  # per-step thresholds are indexed by t
        return top2[:, 0] - top2[:, 1] > limit


@dataclass(frozen=True)
class Entropy:
    """The entropy exit (`pipeline.exits.cutoff.entropy_exit`): stop when 1 - H(softmax(f_t / temperature)) /
    log C exceeds `threshold`."""

    threshold: float  # in [0, 1), strict >
    accumulate: str = "sum"
    temperature: float = 1.0

    def score(self, running: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        return running / t[:, None].to(running.dtype) if self.accumulate == "mean" else running

    def confident(self, score: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        # The same float64 operations, in the same order, as pipeline.exits.cutoff.entropy_score.
        z = score / self.temperature
        z = z - z.amax(dim=-1, keepdim=True)
        e = torch.exp(z)
        total = e.sum(dim=-1)
        entropy = torch.log(total) - (e * z).sum(dim=-1) / total
        return 1.0 - entropy / math.log(score.shape[-1]) > self.threshold


STEP_RULES = (Seenn1, TopK, Entropy)  # rules evaluated after every step from the running output
Policy = FixedT | GivenSteps | PolicyNet | Seenn1 | TopK | Entropy
