"""Building blocks shared by the model families.

Every model takes a sequence `[T, N, C, H, W]` and returns per-timestep logits `[T, N, classes]`.
Stateless layers (conv, BN, pooling, linear) run once on the merged `[T * N, ...]` batch; activations
(LIF, IF, QCFS) see `[T, N, ...]`. Normalisation is a plain BatchNorm over the merged batch, as the
released code's "tdBN" (no threshold scaling). An ANN is the same network run with T = 1 and QCFS.
"""

from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import nn

ActivationFactory = Callable[[], nn.Module]


@dataclass(frozen=True)
class Architecture:
    """What a built model is beyond its width: its registry name and its options, resolved (`stem` is
    never `auto`); an option the model does not have is None. `build_model` sets it as `model.architecture`
    (a plain attribute, not in the state dict), so a loader can check it was given the network it needs."""

    model: str
    shortcut: str | None = None  # ResNets with BasicBlocks: avgpool | conv
    stem: str | None = None  # ResNets: imagenet | cifar
    stem_pool: str | None = None  # ImageNet stems: avg | max
    vgg_head: str | None = None  # VGG-16: gap | fc3


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
