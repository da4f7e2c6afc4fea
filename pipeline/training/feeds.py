"""The feeds a training reads: the shuffled, augmented training feed (this process's shard under torchrun)
and in-order evaluation feeds over either split, for in-memory and streamed (ImageNet) data alike."""

import numpy as np
import torch

from pipeline.data.feed import Feed, InMemoryFeed
from pipeline.data.prepared import PreparedData
from pipeline.training.context import Execution
from pipeline.training.loop import TrainConfig

EVAL_BATCH = 256  # samples per batch when recording outputs (no gradients)


def _split(data: PreparedData, split: str) -> tuple[np.ndarray, np.ndarray]:
    """The arrays of an in-memory split: "train", "test", "val" (validation) or "holdout" (SEENN-II's
    held-out part of training)."""
    if split == "val":
        if data.y_val is None:
            name = data.info.name
            raise ValueError(f"{name} has no validation split: set data.{name}.val_fraction > 0")
        return data.x_val, data.y_val
    if split == "holdout":
        if data.y_holdout is None:
            name = data.info.name
            raise ValueError(f"{name} has no held-out split: set data.{name}.holdout_fraction > 0")
        return data.x_holdout, data.y_holdout
    return (data.x_train, data.y_train) if split == "train" else (data.x_test, data.y_test)


def training_feed(
    data: PreparedData, config: TrainConfig, device: str, execution: Execution, split: str = "train"
) -> Feed:
    """Batches of `config.batch_size` in a fresh shuffled order every pass, augmented by `config.augment`;
    under torchrun, this process's contiguous slice of each global batch."""
    shard = execution.process.shard
    if data.stream is not None:  # ImageNet: images streamed from disk, the recipe's crop in the workers
        from pipeline.data.imagenet import imagenet_feed

        return imagenet_feed(data, "train", config.batch_size, True, device, shard, execution.workers)
    x_train, y_train = (torch.from_numpy(a) for a in _split(data, split))
    on_device = execution.speed.data_on_device
    return InMemoryFeed(x_train, y_train, config.batch_size, config.augment, device, on_device, shard)


def eval_feed(
    data: PreparedData, split: str, device: str, execution: Execution, limit_per_class: int = 0
) -> Feed:
    """An in-order, unaugmented feed over the "train", "test", "val" or "holdout" split (`limit_per_class`
    > 0: only the first k images of each class, or all of a class with fewer). Never sharded: every process
    sees all of it."""
    if data.stream is not None:
        from pipeline.data.imagenet import imagenet_feed

        if split == "holdout":
            raise ValueError(f"{data.info.name} is streamed: it has no {split} split")
        name = {"train": "train", "test": "val", "val": "validation"}[split]  # ImageNet's val = our test
        return imagenet_feed(
            data, name, EVAL_BATCH, False, device, workers=execution.workers, limit_per_class=limit_per_class
        )
    x, y = _split(data, split)
    if limit_per_class > 0:
        keep = np.sort(np.concatenate([np.flatnonzero(y == c)[:limit_per_class] for c in np.unique(y)]))
        x, y = x[keep], y[keep]
    return InMemoryFeed(
        torch.from_numpy(x),
        torch.from_numpy(y),
        EVAL_BATCH,
        device=device,
        on_device=execution.speed.data_on_device,
    )


def test_inputs(data: PreparedData, per_class: int = 1, workers: int = 4) -> tuple[np.ndarray, np.ndarray]:
    """Test inputs as arrays `[N, ...]` and labels `[N]`: the whole test set when it is in memory; for
    streamed data (ImageNet) the first `per_class` validation images of each class, decoded here."""
    if data.stream is None:
        return data.x_test, data.y_test
    feed = eval_feed(data, "test", "cpu", Execution(workers=workers), limit_per_class=per_class)
    xs, ys = zip(*feed.batches(None))
    return torch.cat(xs).numpy(), torch.cat(ys).numpy()
