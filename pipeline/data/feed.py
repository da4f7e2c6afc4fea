"""Where training batches come from: one pass over a dataset as `(x, y)` batches on the training device.

A `Feed` hides whether the data sit in memory (the embedded datasets, CIFAR, CIFAR10-DVS) or stream
from disk (ImageNet), and whether they are held on the GPU. Under `torchrun`, every process walks the
same shuffled order and takes its own slice of each global batch (`Shard`), so N processes together
see exactly the batches one process would.
"""

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Protocol

import torch

from pipeline.data.augment import AugmentSpec, augment_batch


@dataclass(frozen=True)
class Shard:
    """This process's part of each global batch: contiguous slice `rank` of `world` (torch.tensor_split)."""

    rank: int = 0
    world: int = 1

    def take(self, *tensors: torch.Tensor) -> tuple[torch.Tensor, ...]:
        if self.world == 1:
            return tensors
        return tuple(t.tensor_split(self.world)[self.rank] for t in tensors)


class Feed(Protocol):
    """One pass over a dataset in batches; `batches(generator)` shuffles with `generator` (None = in
    order, no augmentation draws)."""

    def __len__(self) -> int:  # batches per pass
        ...

    def batches(
        self, generator: torch.Generator | None = None
    ) -> Iterator[tuple[torch.Tensor, torch.Tensor]]: ...


class InMemoryFeed:
    """Batches cut from tensors `x [N, ...]`, `y [N]`, augmented with `augment` when shuffled.

    With `on_device`, the tensors (uint8 for CIFAR: a quarter of float32) are moved to `device` once,
    and indexing and augmentation run there; otherwise each batch is cut and augmented on the CPU and
    copied over (the reference path). Random draws always come from the CPU `generator`, so both paths
    give the same batches.
    """

    def __init__(
        self,
        x: torch.Tensor,
        y: torch.Tensor,
        batch_size: int,
        augment: AugmentSpec = AugmentSpec(),
        device: str = "cpu",
        on_device: bool = False,
        shard: Shard = Shard(),
    ):
        self.device = device
        self.x, self.y = (x.to(device), y.to(device)) if on_device else (x, y)
        self.batch_size, self.augment, self.shard = batch_size, augment, shard

    def __len__(self) -> int:
        return -(-len(self.x) // self.batch_size)

    def batches(
        self, generator: torch.Generator | None = None
    ) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        n = len(self.x)
        order = torch.randperm(n, generator=generator) if generator is not None else torch.arange(n)
        order = order.to(self.x.device)
        for start in range(0, n, self.batch_size):
            idx = order[start : start + self.batch_size]
            xb, yb = self.x[idx], self.y[idx]
            if generator is not None and self.augment.active():
                # the whole global batch is augmented, then sliced: every process draws the same numbers
                xb = augment_batch(xb, self.augment, generator)
            xb, yb = self.shard.take(xb, yb)
            yield xb.to(self.device, non_blocking=True), yb.to(self.device, non_blocking=True)
