"""The training recipes of the paper's two routes: direct SNN training with TET (optionally with
SNNCutoff's RCS term), and QCFS ANN pre-training followed by conversion to an IF SNN. Each builds its
network from the run's params, trains it with the one loop (`pipeline.training.loop.fit`) and returns
it with its test-set outputs."""

from collections.abc import Callable, Iterator
from contextlib import contextmanager, nullcontext
from dataclasses import replace

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from pipeline.core.config import ConversionRun, DirectRun
from pipeline.data.augment import AugmentSpec
from pipeline.data.prepared import PreparedData, to_sequence
from pipeline.snn.convert import convert_qcfs_to_if
from pipeline.snn.networks import build_direct_snn, build_qcfs_ann
from pipeline.snn.neurons import SpikingNeuron
from pipeline.training.context import Execution, TrainingContext
from pipeline.training.determinism import seed_everything
from pipeline.training.feeds import eval_feed, training_feed
from pipeline.training.loop import Encode, LossFn, TrainConfig, evaluate, fit, supervised_task
from pipeline.training.losses import tet_loss
from pipeline.training.rcs import NeuronRecorder, QCFSRecorder, rcs_ann_loss, rcs_loss


def train_config(
    run: DirectRun | ConversionRun, seed: int, execution: Execution = Execution()
) -> TrainConfig:
    """The run's recipe; under torchrun, `batch_size` is the global batch unless `distributed.batch_size`
    says per process, and the learning rate grows with the process count under the linear rule."""
    world, scaling = execution.process.world, execution.scaling
    return TrainConfig(
        epochs=run.epochs,
        batch_size=run.batch_size * (world if scaling.batch_size == "per_process" else 1),
        lr=run.lr * (world if scaling.lr_scaling == "linear" else 1),
        weight_decay=run.weight_decay,
        seed=seed,
        augment=AugmentSpec(run.shift, run.flip, run.roll, run.cutout, run.autoaugment),
        keep_best="holdout_accuracy" if run.select == "best_holdout" else None,
        nesterov=run.nesterov,
        warmup_epochs=run.warmup_epochs,
        ema_decay=run.ema,
    )


def _train(
    model: nn.Module,
    loss: LossFn,
    encode: Encode,
    run,
    data: PreparedData,
    seed: int,
    ctx: TrainingContext,
    start_epoch: Callable[[int], None] | None = None,
):
    """What the two trainings share: the feeds, the RCS term when `run.rcs_weight` > 0 (neuron recorder
    for an SNN, QCFS recorder for the ANN), then `fit` (calling `start_epoch(epoch)` before each epoch).
    Returns the last metrics and the test feed."""
    config = train_config(run, seed, ctx.execution)
    train = training_feed(data, config, ctx.device, ctx.execution)
    test = eval_feed(data, "test", ctx.device, ctx.execution)
    recorder, regulariser = None, None
    if run.rcs_weight > 0:
        spiking = isinstance(run, DirectRun)
        recorder = (NeuronRecorder if spiking else QCFSRecorder)(model)
        regulariser = rcs_loss if spiking else rcs_ann_loss
        base = loss
        loss = lambda out, y: base(out, y) + run.rcs_weight * regulariser(out, y, recorder)  # noqa: E731
    holdout = eval_feed(data, "holdout", ctx.device, ctx.execution) if run.select == "best_holdout" else None
    task = supervised_task(model, loss, encode, test, ctx.device, ctx.execution.speed, holdout, run.tta_flip)
    task = replace(task, start_epoch=start_epoch)
    with recorder or nullcontext():
        metrics = fit(task, train, config, ctx)
    return metrics, test


def train_direct(
    run: DirectRun, data: PreparedData, seed: int, ctx: TrainingContext = TrainingContext()
) -> tuple[nn.Module, np.ndarray, dict[str, float]]:
    """Train an LIF SNN with the TET loss at `run.T` steps (the first `run.curriculum_epochs` epochs at
    `run.curriculum_T`); return it, its test logits `[T, N, C]` and the last epoch's metrics."""
    seed_everything(seed)
    model = build_direct_snn(run, data.info)
    steps = [run.T]  # the timesteps of the current epoch: the curriculum sets it before each epoch
    encode = lambda x: to_sequence(x, data.info, steps[0])  # noqa: E731  [T, N, C, H, W]

    def start_epoch(epoch: int) -> None:
        # the LIF starts from a fresh membrane, so a short-T epoch trains the first steps of the T-step net
        steps[0] = run.curriculum_T if epoch < run.curriculum_epochs else run.T

    smoothing = run.label_smoothing
    tet = lambda out, y: tet_loss(out, y, run.tet_lambda, mode=run.tet_mode, label_smoothing=smoothing)  # noqa: E731
    metrics, test = _train(model, tet, encode, run, data, seed, ctx, start_epoch)
    steps[0] = run.T
    return model, evaluate(model, test, encode, ctx.device, ctx.execution.speed, run.tta_flip)[0], metrics


def pretrain_ann(
    run: ConversionRun, data: PreparedData, seed: int, ctx: TrainingContext = TrainingContext()
) -> tuple[nn.Module, dict[str, float]]:
    """Train the QCFS ANN (the same architecture run with T = 1) with cross-entropy."""
    seed_everything(seed)
    model = build_qcfs_ann(run, data.info)
    encode = lambda x: to_sequence(x, data.info, 1)  # noqa: E731  [1, N, C, H, W]
    ce = lambda out, y: F.cross_entropy(out[0], y, label_smoothing=run.label_smoothing)  # noqa: E731
    metrics, _ = _train(model, ce, encode, run, data, seed, ctx)
    return model, metrics


def convert_and_simulate(
    ann: nn.Module, run: ConversionRun, data: PreparedData, device: str, execution: Execution = Execution()
) -> tuple[nn.Module, np.ndarray]:
    """Convert the QCFS ANN to an IF SNN and record its per-step test outputs over `run.T` steps."""
    snn = convert_qcfs_to_if(ann).to(device)
    encode = lambda x: to_sequence(x, data.info, run.T)  # noqa: E731
    feed = eval_feed(data, "test", device, execution)
    return snn, evaluate(snn, feed, encode, device, tta=run.tta_flip)[0]


@contextmanager
def neuron_dropout(model: nn.Module, p: float) -> Iterator[None]:
    """Dropout with rate `p` on every spiking neuron's output (kept spikes scaled by 1 / (1 - p)), also in
    eval mode, while the context is open: SNNCutoff records its calibration outputs this way. Draws come
    from torch's global generator, so seed it first."""
    if p <= 0:
        yield
        return
    hooks = [
        m.register_forward_hook(lambda module, args, out: F.dropout(out, p, training=True))
        for m in model.modules()
        if isinstance(m, SpikingNeuron)
    ]
    try:
        yield
    finally:
        for hook in hooks:
            hook.remove()


def training_set_logits(
    model: nn.Module,
    data: PreparedData,
    T: int,
    device: str,
    execution: Execution = Execution(),
    limit_per_class: int = 0,
    dropout: float = 0.0,
    seed: int = 0,
    tta: bool = False,
) -> tuple[np.ndarray, np.ndarray]:
    """Per-step outputs `[T, N_train, C]` on the unaugmented training set (SNNCutoff's calibration) and
    their labels `[N_train]`; for streamed data only the first `limit_per_class` images of each class.
    `dropout`: SNNCutoff's dropout after every spiking layer while recording (draws seeded by `seed`);
    `tta`: flip test-time augmentation, as the run's recorded test outputs."""
    encode = lambda x: to_sequence(x, data.info, T)  # noqa: E731
    torch.manual_seed(seed)
    with neuron_dropout(model, dropout):
        feed = eval_feed(data, "train", device, execution, limit_per_class)
        return evaluate(model, feed, encode, device, tta=tta)


def validation_logits(
    model: nn.Module,
    data: PreparedData,
    T: int,
    device: str,
    execution: Execution = Execution(),
    tta: bool = False,
) -> tuple[np.ndarray, np.ndarray]:
    """Per-step outputs `[T, N_val, C]` on the validation split (where the exit-policy comparison chooses
    its operating points) and their labels `[N_val]`; `[T, 0, C]` and `[0]` when the data have none."""
    if data.y_val is None:
        return np.zeros((T, 0, data.info.num_classes), np.float32), np.zeros(0, np.int64)
    encode = lambda x: to_sequence(x, data.info, T)  # noqa: E731
    return evaluate(model, eval_feed(data, "val", device, execution), encode, device, tta=tta)
