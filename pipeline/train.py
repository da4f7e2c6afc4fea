"""One training loop for the QCFS ANN and the directly trained SNN: SGD with momentum, cosine schedule."""

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn
from tqdm.auto import tqdm

from pipeline.augment import AugmentSpec, augment_batch
from pipeline.checkpoint import Checkpointing, capture, check_finite, restore


@dataclass(frozen=True)
class TrainConfig:
    epochs: int = 30  # passes over the training set
    batch_size: int = 64  # samples per SGD step
    lr: float = 0.1  # initial learning rate, cosine-annealed to 0
    momentum: float = 0.9  # SGD momentum
    weight_decay: float = 5e-4  # L2 penalty on all parameters
    seed: int = 0  # shuffling order and initialisation
    augment: AugmentSpec = AugmentSpec()  # training-time augmentation (none by default)


Batch = tuple[torch.Tensor, torch.Tensor]
LossFn = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]  # (outputs [T, N, C], labels [N]) -> loss
Encode = Callable[[torch.Tensor], torch.Tensor]  # batch [N, ...] -> model input [T, N, ...]


def batches(x: torch.Tensor, y: torch.Tensor, batch_size: int, generator: torch.Generator | None = None):
    order = torch.randperm(len(x), generator=generator) if generator is not None else torch.arange(len(x))
    for start in range(0, len(x), batch_size):
        idx = order[start : start + batch_size]
        yield x[idx], y[idx]


@torch.no_grad()
def timestep_logits(
    model: nn.Module, x: torch.Tensor, encode: Encode, batch_size: int = 256, device: str = "cpu"
) -> np.ndarray:
    """Each timestep's own classifier output on `x`, `[T, N, C]` float32 (not accumulated)."""
    model.eval()
    outs = [model(encode(xb.to(device))).float().cpu() for xb, _ in batches(x, x, batch_size)]
    return torch.cat(outs, dim=1).numpy()


def fit(
    model: nn.Module,
    loss_fn: LossFn,
    encode: Encode,
    train: Batch,
    test: Batch,
    config: TrainConfig,
    device: str = "cpu",
    on_epoch: Callable[[int, dict[str, float]], None] | None = None,
    desc: str = "train",
    checkpointing: Checkpointing | None = None,
) -> dict[str, float]:
    """Train `model` in place; after each epoch call `on_epoch(epoch, metrics)`; return the last metrics.

    Metrics: mean training loss, training accuracy and test accuracy of the output summed over all steps.
    With `checkpointing`, the state is saved at epoch boundaries and a given `resume_state` is continued
    (its finished epochs are replayed to `on_epoch` first); a NaN or infinite loss raises
    FloatingPointError naming the epoch and step.
    """
    torch.manual_seed(config.seed)
    generator = torch.Generator().manual_seed(config.seed)
    model.to(device)
    optimizer = torch.optim.SGD(
        model.parameters(), lr=config.lr, momentum=config.momentum, weight_decay=config.weight_decay
    )
    steps_per_epoch = -(-len(train[0]) // config.batch_size)
    scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=config.epochs * steps_per_epoch)
    metrics: dict[str, float] = {}
    ckpt = checkpointing or Checkpointing(every=0)
    start, history = 0, []
    if ckpt.resume_state is not None:
        start, history = restore(ckpt.resume_state, {"model": model}, optimizer, scheduler, generator)
    for epoch, past in enumerate(history):
        metrics = past
        if on_epoch is not None:
            on_epoch(epoch, past)
    for epoch in tqdm(range(start, config.epochs), desc=desc, disable=None, leave=False):
        model.train()
        total_loss, correct, seen = 0.0, 0, 0
        for step, (xb, yb) in enumerate(batches(*train, config.batch_size, generator)):
            xb = augment_batch(xb, config.augment, generator)
            xb, yb = xb.to(device), yb.to(device)
            outputs = model(encode(xb))  # [T, N, C]
            loss = loss_fn(outputs, yb)
            value = loss.item()
            check_finite(value, epoch, step)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            scheduler.step()
            total_loss += value * len(yb)
            correct += (outputs.sum(0).argmax(-1) == yb).sum().item()
            seen += len(yb)
        test_logits = timestep_logits(model, test[0], encode, device=device)
        test_acc = float((test_logits.sum(0).argmax(-1) == test[1].numpy()).mean())
        metrics = {"loss": total_loss / seen, "train_accuracy": correct / seen, "test_accuracy": test_acc}
        history.append(metrics)
        if on_epoch is not None:
            on_epoch(epoch, metrics)
        if ckpt.due(epoch, config.epochs):
            ckpt.save(capture({"model": model}, optimizer, scheduler, generator, epoch + 1, history))
    return metrics
