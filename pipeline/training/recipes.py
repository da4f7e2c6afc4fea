"""The training recipes the stages call: direct SNN training with TET, QCFS ANN pre-training, conversion
of that ANN to an IF SNN, and the SEENN-II finetune. Each returns the networks and test-set outputs."""

from collections.abc import Callable
from dataclasses import asdict, dataclass

from contextlib import nullcontext

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from pipeline.data.augment import AugmentSpec
from pipeline.training.checkpoint import Checkpointing
from pipeline.core.config import ConversionRun, DirectRun, DistributedParams
from pipeline.snn.convert import convert_qcfs_to_if
from pipeline.data.prepared import PreparedData, to_sequence
from pipeline.training.losses import tet_loss
from pipeline.training.rcs import NeuronRecorder, QCFSRecorder, rcs_ann_loss, rcs_loss
from pipeline.snn.networks import build_direct_snn, build_qcfs_ann, seed_everything
from pipeline.training.distributed import Process
from pipeline.data.feed import Feed, InMemoryFeed
from pipeline.training.speed import Speed
from pipeline.training.loop import TrainConfig, evaluate, fit

EVAL_BATCH = 256  # samples per batch when recording outputs (no gradients)

EpochCallback = Callable[[int, dict[str, float]], None]


def feeds(data: PreparedData, config: "TrainConfig", device: str, execution: "Execution") -> tuple[Feed, Feed]:
    """The shuffled, augmented training feed (this process's shard of each global batch) and the
    in-order test feed."""
    if data.stream is not None:  # ImageNet: images streamed from disk, the recipe's crop in the workers
        from pipeline.data.imagenet import imagenet_feed

        shard, workers = execution.process.shard, execution.workers
        train = imagenet_feed(data, "train", config.batch_size, True, device, shard, workers)
        return train, eval_feed(data, "test", device, execution)
    x_train, y_train = torch.from_numpy(data.x_train), torch.from_numpy(data.y_train)
    on_device, shard = execution.speed.data_on_device, execution.process.shard
    train = InMemoryFeed(x_train, y_train, config.batch_size, config.augment, device, on_device, shard)
    return train, eval_feed(data, "test", device, execution)


def eval_feed(data: PreparedData, split: str, device: str, execution: "Execution", limit_per_class: int = 0) -> Feed:
    """An in-order, unaugmented feed over the "train" or "test" split (`limit_per_class`: streamed data
    only, the first k images of each class)."""
    if data.stream is not None:
        from pipeline.data.imagenet import imagenet_feed

        name = "train" if split == "train" else "val"
        return imagenet_feed(data, name, EVAL_BATCH, False, device, workers=execution.workers, limit_per_class=limit_per_class)
    x, y = (data.x_train, data.y_train) if split == "train" else (data.x_test, data.y_test)
    return InMemoryFeed(torch.from_numpy(x), torch.from_numpy(y), EVAL_BATCH, device=device, on_device=execution.speed.data_on_device)


def test_inputs(data: PreparedData, per_class: int = 1, workers: int = 4) -> tuple[np.ndarray, np.ndarray]:
    """Test inputs as arrays `[N, ...]` and labels `[N]`: the whole test set when it is in memory; for
    streamed data (ImageNet) the first `per_class` validation images of each class, decoded here."""
    if data.stream is None:
        return data.x_test, data.y_test
    feed = eval_feed(data, "test", "cpu", Execution(workers=workers), limit_per_class=per_class)
    xs, ys = zip(*feed.batches(None))
    return torch.cat(xs).numpy(), torch.cat(ys).numpy()


def _config(run: DirectRun | ConversionRun, seed: int, process: Process, scaling: DistributedParams) -> TrainConfig:
    """The run's recipe; under torchrun, `batch_size` is the global batch unless `distributed.batch_size`
    says per process, and the learning rate grows with the process count under the linear rule."""
    batch = run.batch_size * (process.world if scaling.batch_size == "per_process" else 1)
    lr = run.lr * (process.world if scaling.lr_scaling == "linear" else 1)
    return TrainConfig(
        epochs=run.epochs,
        batch_size=batch,
        lr=lr,
        weight_decay=run.weight_decay,
        seed=seed,
        augment=AugmentSpec(run.shift, run.flip, run.roll, run.cutout, run.autoaugment),
    )


@dataclass(frozen=True)
class Execution:
    """How a training run executes beyond its device (not what it computes, up to float rounding):
    speed switches, the torchrun process, the batch and learning-rate rule under torchrun."""

    speed: Speed = Speed()
    process: Process = Process()
    scaling: DistributedParams = DistributedParams()
    workers: int = 4  # DataLoader processes for streamed datasets (ImageNet)

    def fingerprint(self) -> dict:
        """What a resumable checkpoint must match: the switches and process count change float rounding."""
        return {"speed": asdict(self.speed), "world": self.process.world, "scaling": asdict(self.scaling)}


def train_direct(
    run: DirectRun,
    data: PreparedData,
    seed: int,
    device: str,
    on_epoch: EpochCallback | None = None,
    checkpointing: Checkpointing | None = None,
    execution: Execution = Execution(),
) -> tuple[nn.Module, np.ndarray, dict[str, float]]:
    """Train an LIF SNN with the TET loss at `run.T` steps; return it, its test logits `[T, N, C]` and the
    last epoch's metrics."""
    seed_everything(seed)
    model = build_direct_snn(run, data.info)
    encode = lambda x: to_sequence(x, data.info, run.T)  # noqa: E731  [T, N, C, H, W]
    tet = lambda out, y: tet_loss(out, y, lam=run.tet_lambda, mode=run.tet_mode)  # noqa: E731
    rcs = (NeuronRecorder, rcs_loss)
    metrics, test = _train(model, tet, rcs, run, data, encode, seed, device, on_epoch, "train_snn", checkpointing, execution)
    return model, evaluate(model, test, encode, device, execution.speed)[0], metrics


def _train(model, loss, rcs, run, data, encode, seed, device, on_epoch, desc, checkpointing, execution: Execution):
    """What the two training recipes share: the feeds, the RCS term when `run.rcs_weight` > 0 (`rcs` =
    (recorder class, regulariser)), then `fit`. Returns the last metrics and the test feed."""
    config = _config(run, seed, execution.process, execution.scaling)
    train, test = feeds(data, config, device, execution)
    recorder = rcs[0](model) if run.rcs_weight > 0 else None
    total = loss if recorder is None else lambda out, y: loss(out, y) + run.rcs_weight * rcs[1](out, y, recorder)  # noqa: E731
    with recorder or nullcontext():
        metrics = fit(
            model, total, encode, train, test, config, device, on_epoch, desc, checkpointing,
            execution.speed, execution.process, execution.scaling.sync_batchnorm,
        )
    return metrics, test


def pretrain_ann(
    run: ConversionRun,
    data: PreparedData,
    seed: int,
    device: str,
    on_epoch: EpochCallback | None = None,
    checkpointing: Checkpointing | None = None,
    execution: Execution = Execution(),
) -> tuple[nn.Module, dict[str, float]]:
    """Train the QCFS ANN (the same architecture run with T = 1) with cross-entropy."""
    seed_everything(seed)
    model = build_qcfs_ann(run, data.info)
    encode = lambda x: to_sequence(x, data.info, 1)  # noqa: E731  [1, N, C, H, W]
    ce = lambda out, y: F.cross_entropy(out[0], y)  # noqa: E731
    rcs = (QCFSRecorder, rcs_ann_loss)
    metrics, _ = _train(model, ce, rcs, run, data, encode, seed, device, on_epoch, "pretrain_ann", checkpointing, execution)
    return model, metrics


def convert_and_simulate(
    ann: nn.Module, run: ConversionRun, data: PreparedData, device: str, execution: Execution = Execution()
) -> tuple[nn.Module, np.ndarray]:
    """Convert the QCFS ANN to an IF SNN and record its per-step test outputs over `run.T` steps."""
    snn = convert_qcfs_to_if(ann).to(device)
    encode = lambda x: to_sequence(x, data.info, run.T)  # noqa: E731
    return snn, evaluate(snn, eval_feed(data, "test", device, execution), encode, device)[0]


def training_set_logits(
    model: nn.Module, data: PreparedData, T: int, device: str, execution: Execution = Execution(), limit_per_class: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """Per-step outputs `[T, N_train, C]` on the unaugmented training set (SNNCutoff's calibration) and
    their labels `[N_train]`; for streamed data only the first `limit_per_class` images of each class."""
    encode = lambda x: to_sequence(x, data.info, T)  # noqa: E731
    return evaluate(model, eval_feed(data, "train", device, execution, limit_per_class), encode, device)
