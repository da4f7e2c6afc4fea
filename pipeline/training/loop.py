"""One training loop for the QCFS ANN and the directly trained SNN: SGD with momentum, cosine schedule."""

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn
from tqdm.auto import tqdm

from pipeline.data.augment import AugmentSpec
from pipeline.training.checkpoint import Checkpointing, capture, check_finite, restore
from pipeline.training.distributed import Process, all_sum, wrap
from pipeline.data.feed import Feed, InMemoryFeed
from pipeline.training.speed import Speed


@dataclass(frozen=True)
class TrainConfig:
    epochs: int = 30  # passes over the training set
    batch_size: int = 64  # samples per SGD step
    lr: float = 0.1  # initial learning rate, cosine-annealed to 0
    momentum: float = 0.9  # SGD momentum
    weight_decay: float = 5e-4  # L2 penalty on all parameters
    seed: int = 0  # shuffling order and initialisation
    augment: AugmentSpec = AugmentSpec()  # training-time augmentation (none by default)


LossFn = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]  # (outputs [T, N, C], labels [N]) -> loss
Encode = Callable[[torch.Tensor], torch.Tensor]  # batch [N, ...] -> model input [T, N, ...]


def batches(x: torch.Tensor, y: torch.Tensor, batch_size: int, generator: torch.Generator | None = None):
    order = torch.randperm(len(x), generator=generator) if generator is not None else torch.arange(len(x))
    for start in range(0, len(x), batch_size):
        idx = order[start : start + batch_size]
        yield x[idx], y[idx]


@torch.no_grad()
def evaluate(
    model: nn.Module, feed: Feed, encode: Encode, device: str = "cpu", speed: Speed = Speed()
) -> tuple[np.ndarray, np.ndarray]:
    """Each timestep's own classifier output over one in-order pass of `feed`, `[T, N, C]` float32
    (not accumulated), and the labels `[N]`."""
    model.eval()
    outs, labels = [], []
    for xb, yb in feed.batches(None):
        with speed.autocast(device):
            outs.append(model(speed.prepare_input(encode(xb.to(device)))).float().cpu())
        labels.append(yb.cpu())
    return torch.cat(outs, dim=1).numpy(), torch.cat(labels).numpy()


def timestep_logits(
    model: nn.Module, x: torch.Tensor, encode: Encode, batch_size: int = 256, device: str = "cpu"
) -> np.ndarray:
    """`evaluate` on the tensor `x` (reference speed path): `[T, N, C]` float32."""
    return evaluate(model, InMemoryFeed(x, torch.zeros(len(x), dtype=torch.long), batch_size), encode, device)[0]


def fit(
    model: nn.Module,
    loss_fn: LossFn,
    encode: Encode,
    train: Feed,
    test: Feed,
    config: TrainConfig,
    device: str = "cpu",
    on_epoch: Callable[[int, dict[str, float]], None] | None = None,
    desc: str = "train",
    checkpointing: Checkpointing | None = None,
    speed: Speed = Speed(),
    process: Process = Process(),
    sync_bn: bool = True,
) -> dict[str, float]:
    """Train `model` in place; after each epoch call `on_epoch(epoch, metrics)`; return the last metrics.

    Metrics: mean training loss, training accuracy and test accuracy of the output summed over all steps.
    With `checkpointing`, the state is saved at epoch boundaries and a given `resume_state` is continued
    (its finished epochs are replayed to `on_epoch` first); a NaN or infinite loss raises
    FloatingPointError naming the epoch and step. `speed` picks the fast paths (pipeline/training/speed.py);
    under torchrun, `process` is this process and `train` yields its shard of every global batch.
    """
    torch.manual_seed(config.seed)
    generator = torch.Generator().manual_seed(config.seed)
    model.to(device)
    speed.prepare_model(model)
    net = wrap(model, process, device, sync_bn)  # DDP under torchrun; before the optimiser sees the parameters
    optimizer = torch.optim.SGD(
        model.parameters(), lr=config.lr, momentum=config.momentum, weight_decay=config.weight_decay
    )
    scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=config.epochs * len(train))
    metrics: dict[str, float] = {}
    ckpt = checkpointing or Checkpointing(every=0)
    start, history = 0, []
    if ckpt.resume_state is not None:
        start, history = restore(ckpt.resume_state, {"model": model}, optimizer, scheduler, generator)
    for epoch, past in enumerate(history):
        metrics = past
        if on_epoch is not None:
            on_epoch(epoch, past)
    for epoch in tqdm(range(start, config.epochs), desc=desc, disable=None if process.is_main else True, leave=False):
        net.train()
        total_loss, correct, seen = 0.0, 0, 0
        for step, (xb, yb) in enumerate(train.batches(generator)):
            with speed.autocast(device):
                outputs = net(speed.prepare_input(encode(xb)))  # [T, n, C]
            loss = loss_fn(outputs.float(), yb)  # the loss in fp32 whatever the autocast
            value = local = loss.item()
            if process.world > 1:  # weight by this shard's share, so DDP's average is the global mean
                n_global, loss_sum = all_sum([float(len(yb)), local * len(yb)], process, device)
                loss, value = loss * (len(yb) * process.world / n_global), loss_sum / n_global
            check_finite(value, epoch, step)  # the global loss, so every process stops together
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            scheduler.step()
            total_loss += local * len(yb)
            correct += (outputs.sum(0).argmax(-1) == yb).sum()  # a device tensor: no sync per step
            seen += len(yb)
        total_loss, correct, seen = all_sum([total_loss, int(correct), seen], process, device)
        test_logits, test_labels = evaluate(model, test, encode, device, speed)
        test_acc = float((test_logits.sum(0).argmax(-1) == test_labels).mean())
        metrics = {"loss": total_loss / seen, "train_accuracy": correct / seen, "test_accuracy": test_acc}
        history.append(metrics)
        if on_epoch is not None:
            on_epoch(epoch, metrics)
        if ckpt.due(epoch, config.epochs):
            ckpt.save(capture({"model": model}, optimizer, scheduler, generator, epoch + 1, history))
    return metrics
