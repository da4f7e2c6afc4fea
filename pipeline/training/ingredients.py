"""The fast-training recipe's ingredients, each optional and off by default (the paper's recipe is SGD with
momentum 0.9 and a cosine schedule, nothing else): Nesterov momentum, a linear warm-up before the cosine
decay, an exponential moving average (EMA) of the weights, label smoothing (in the losses) and flip
test-time augmentation. docs/recipe.md measures what each buys on CIFAR-10.

The EMA is torch's `AveragedModel` (parameters and BatchNorm buffers alike): after every SGD step
`ema = decay * ema + (1 - decay) * weights`, starting from the weights after the first step; at the end of
training its weights replace the trained ones.
"""

import math
from collections.abc import Callable

import torch
from torch import nn
from torch.optim.swa_utils import AveragedModel, get_ema_multi_avg_fn


def make_optimizer(
    params: list[nn.Parameter], lr: float, momentum: float, weight_decay: float, nesterov: bool
) -> torch.optim.SGD:
    return torch.optim.SGD(params, lr=lr, momentum=momentum, weight_decay=weight_decay, nesterov=nesterov)


def warmup_cosine(total_steps: int, warmup_steps: int) -> Callable[[int], float]:
    """The learning-rate factor at step s (0-based, the factor of the step about to be taken): linear from
    1 / warmup_steps up to 1 over the first `warmup_steps` steps, then a cosine from 1 to 0 over the rest."""

    def factor(step: int) -> float:
        if step < warmup_steps:
            return (step + 1) / warmup_steps
        rest = max(1, total_steps - warmup_steps)
        return 0.5 * (1 + math.cos(math.pi * min(step - warmup_steps, rest) / rest))

    return factor


def make_schedule(
    optimizer: torch.optim.Optimizer, total_steps: int, warmup_steps: int
) -> torch.optim.lr_scheduler.LRScheduler:
    """The paper's cosine annealing to 0 over every step (torch's own, so an unchanged recipe gives the same
    bytes as before), or with `warmup_steps` > 0 the warm-up + cosine of `warmup_cosine`."""
    if warmup_steps <= 0:
        return torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=total_steps)
    return torch.optim.lr_scheduler.LambdaLR(optimizer, warmup_cosine(total_steps, warmup_steps))


def make_ema(model: nn.Module, decay: float) -> AveragedModel | None:
    """An EMA of `model`'s parameters and buffers with the given per-step decay; None when decay is 0."""
    if decay <= 0:
        return None
    return AveragedModel(model, multi_avg_fn=get_ema_multi_avg_fn(decay), use_buffers=True)


def load_ema(model: nn.Module, ema: AveragedModel) -> None:
    """Copy the averaged weights (and BatchNorm statistics) into `model`."""
    model.load_state_dict(ema.module.state_dict())


def flip_tta(forward: Callable[[torch.Tensor], torch.Tensor], x: torch.Tensor) -> torch.Tensor:
    """Flip test-time augmentation: the mean of the outputs for the input and for its mirror image (width
    is the last axis of `x`). Two passes, so it doubles the cost of inference."""
    return 0.5 * (forward(x) + forward(x.flip(-1)))
