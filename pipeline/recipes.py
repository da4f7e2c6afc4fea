"""The training recipes the stages call: direct SNN training with TET, QCFS ANN pre-training, conversion
of that ANN to an IF SNN, and the SEENN-II finetune. Each returns the networks and test-set outputs."""

from collections.abc import Callable

from contextlib import nullcontext

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from pipeline.augment import AugmentSpec
from pipeline.checkpoint import Checkpointing
from pipeline.config import ConversionRun, DirectRun, SeennIIParams, candidate_steps
from pipeline.convert import convert_qcfs_to_if
from pipeline.data.prepared import PreparedData, to_sequence
from pipeline.finetune import FinetuneConfig, build_policy, evaluate_seenn2, finetune_seenn2
from pipeline.losses import tet_loss
from pipeline.rcs import NeuronRecorder, QCFSRecorder, rcs_ann_loss, rcs_loss
from pipeline.networks import build_direct_snn, build_qcfs_ann, seed_everything
from pipeline.train import TrainConfig, fit, timestep_logits

EpochCallback = Callable[[int, dict[str, float]], None]


def _tensors(data: PreparedData) -> tuple[tuple[torch.Tensor, torch.Tensor], tuple[torch.Tensor, torch.Tensor]]:
    train = (torch.from_numpy(data.x_train), torch.from_numpy(data.y_train))
    test = (torch.from_numpy(data.x_test), torch.from_numpy(data.y_test))
    return train, test


def _config(run: DirectRun | ConversionRun, seed: int) -> TrainConfig:
    return TrainConfig(
        epochs=run.epochs,
        batch_size=run.batch_size,
        lr=run.lr,
        weight_decay=run.weight_decay,
        seed=seed,
        augment=AugmentSpec(run.shift, run.flip, run.roll, run.cutout, run.autoaugment),
    )


def train_direct(
    run: DirectRun,
    data: PreparedData,
    seed: int,
    device: str,
    on_epoch: EpochCallback | None = None,
    checkpointing: Checkpointing | None = None,
) -> tuple[nn.Module, np.ndarray, dict[str, float]]:
    """Train an LIF SNN with the TET loss at `run.T` steps; return it, its test logits `[T, N, C]` and the
    last epoch's metrics."""
    seed_everything(seed)
    model = build_direct_snn(run, data.info)
    encode = lambda x: to_sequence(x, data.info, run.T)  # noqa: E731  [T, N, C, H, W]
    tet = lambda out, y: tet_loss(out, y, lam=run.tet_lambda, mode=run.tet_mode)  # noqa: E731
    train, test = _tensors(data)
    recorder = NeuronRecorder(model) if run.rcs_weight > 0 else None
    loss = tet if recorder is None else lambda out, y: tet(out, y) + run.rcs_weight * rcs_loss(out, y, recorder)  # noqa: E731
    with recorder or nullcontext():
        metrics = fit(model, loss, encode, train, test, _config(run, seed), device, on_epoch, "train_snn", checkpointing)
    return model, timestep_logits(model, test[0], encode, device=device), metrics


def pretrain_ann(
    run: ConversionRun,
    data: PreparedData,
    seed: int,
    device: str,
    on_epoch: EpochCallback | None = None,
    checkpointing: Checkpointing | None = None,
) -> tuple[nn.Module, dict[str, float]]:
    """Train the QCFS ANN (the same architecture run with T = 1) with cross-entropy."""
    seed_everything(seed)
    model = build_qcfs_ann(run, data.info)
    encode = lambda x: to_sequence(x, data.info, 1)  # noqa: E731  [1, N, C, H, W]
    ce = lambda out, y: F.cross_entropy(out[0], y)  # noqa: E731
    train, test = _tensors(data)
    recorder = QCFSRecorder(model) if run.rcs_weight > 0 else None
    loss = ce if recorder is None else lambda out, y: ce(out, y) + run.rcs_weight * rcs_ann_loss(out, y, recorder)  # noqa: E731
    with recorder or nullcontext():
        metrics = fit(model, loss, encode, train, test, _config(run, seed), device, on_epoch, "pretrain_ann", checkpointing)
    return model, metrics


def convert_and_simulate(ann: nn.Module, run: ConversionRun, data: PreparedData, device: str) -> tuple[nn.Module, np.ndarray]:
    """Convert the QCFS ANN to an IF SNN and record its per-step test outputs over `run.T` steps."""
    snn = convert_qcfs_to_if(ann).to(device)
    encode = lambda x: to_sequence(x, data.info, run.T)  # noqa: E731
    return snn, timestep_logits(snn, torch.from_numpy(data.x_test), encode, device=device)


def training_set_logits(model: nn.Module, data: PreparedData, T: int, device: str) -> np.ndarray:
    """Per-step outputs `[T, N_train, C]` on the unaugmented training set (SNNCutoff's calibration)."""
    encode = lambda x: to_sequence(x, data.info, T)  # noqa: E731
    return timestep_logits(model, torch.from_numpy(data.x_train), encode, device=device)


def finetune_policy(
    snn: nn.Module,
    run: DirectRun,
    seenn2: SeennIIParams,
    beta: float,
    data: PreparedData,
    seed: int,
    device: str,
    on_epoch: EpochCallback | None = None,
    checkpointing: Checkpointing | None = None,
) -> tuple[nn.Module, nn.Module, dict[str, float], tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """SEENN-II on a TET-trained SNN: build the ResNet-8 policy, finetune, evaluate on the test set.

    Returns the SNN, the policy, the last epoch's metrics and `(logits [T, N, C], choice [N],
    probs [N, n])` of the test set."""
    seed_everything(seed)
    candidates = candidate_steps(seenn2.candidates, run.T)
    policy = build_policy(len(candidates), data.info, seenn2.policy_width, seenn2.policy_input_size)
    config = FinetuneConfig(
        candidates=candidates,
        beta=beta,
        variant=seenn2.variant,
        epochs=seenn2.epochs,
        batch_size=seenn2.batch_size,
        lr=seenn2.lr,
        momentum=seenn2.momentum,
        weight_decay=seenn2.weight_decay,
        seed=seed,
        augment=AugmentSpec(shift=seenn2.shift, flip=seenn2.flip),
    )
    metrics = finetune_seenn2(
        snn, policy, data, run.T, config, seenn2.policy_input_size, device, on_epoch, checkpointing
    )
    logits, choice, probs = evaluate_seenn2(snn, policy, data, run.T, candidates, seenn2.policy_input_size, device)
    return snn, policy, metrics, (logits, choice, probs)
