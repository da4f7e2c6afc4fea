"""Building blocks shared by the model families.

Every model takes a sequence `[T, N, C, H, W]` and returns per-timestep logits `[T, N, classes]`.
Stateless layers (conv, BN, pooling, linear) run once on the merged `[T * N, ...]` batch; activations
(LIF, IF, QCFS) see `[T, N, ...]`. Normalisation is a plain BatchNorm over the merged batch, as the
released code's "tdBN" (no threshold scaling). An ANN is the same network run with T = 1 and QCFS.
"""

from collections.abc import Callable

import torch
from torch import nn

ActivationFactory = Callable[[], nn.Module]


class MergeTime(nn.Module):
    """Apply a stateless module to `[T, N, ...]` by merging T into the batch."""

    def __init__(self, *modules: nn.Module):
        super().__init__()
        self.body = modules[0] if len(modules) == 1 else nn.Sequential(*modules)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        T, N = x.shape[:2]
        y = self.body(x.flatten(0, 1))
        return y.unflatten(0, (T, N))


def conv_bn(in_ch: int, out_ch: int, kernel: int = 3, stride: int = 1) -> MergeTime:
    return MergeTime(
        nn.Conv2d(in_ch, out_ch, kernel, stride=stride, padding=kernel // 2, bias=False),
        nn.BatchNorm2d(out_ch),
    )


def scaled(channels: int, width: float) -> int:
    """Channel count after the width multiplier (at least 4 channels)."""
    return max(4, int(round(channels * width)))


class ClassifierHead(nn.Module):
    """Global average pooling then a linear classifier: `[T, N, C, H, W]` -> `[T, N, classes]`."""

    def __init__(self, in_ch: int, num_classes: int):
        super().__init__()
        self.fc = nn.Linear(in_ch, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(x.mean(dim=(-2, -1)))
