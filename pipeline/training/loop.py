"""One training loop for every training of the project (the QCFS ANN, the directly trained SNN and the
SEENN-II finetune): SGD with momentum and a cosine schedule over every step, plus the fast recipe's
optional ingredients (Nesterov, warm-up, EMA of the weights: pipeline/training/ingredients.py). What differs between them is
a `Task`: the network called on each batch, the step that turns a batch into a loss, and how an epoch is
scored."""

from collections.abc import Callable
from dataclasses import dataclass, field

import copy
import math

import numpy as np
import torch
from torch import nn
from tqdm.auto import tqdm

from pipeline.data.augment import AugmentSpec
from pipeline.data.feed import Feed, InMemoryFeed
from pipeline.training.checkpoint import Checkpointing, capture, check_finite, restore
from pipeline.training.context import TrainingContext
from pipeline.training.distributed import all_sum, wrap
from pipeline.training.ingredients import flip_tta, load_ema, make_ema, make_optimizer, make_schedule
from pipeline.training.speed import Speed


@dataclass(frozen=True)
class TrainConfig:
    epochs: int = 30  # passes over the training set
    batch_size: int = 64  # samples per SGD step
    lr: float = 0.1  # initial learning rate, cosine-annealed to 0
    momentum: float = 0.9  # SGD momentum
    weight_decay: float = 5e-4  # L2 penalty on all trained parameters
    seed: int = 0  # shuffling order and initialisation
    augment: AugmentSpec = AugmentSpec()  # training-time augmentation (none by default)
    keep_best: str | None = None  # a `Task.score` metric to maximise: its best epoch's weights are kept
    nesterov: bool = False  # Nesterov momentum
    warmup_epochs: float = 0.0  # linear warm-up of the learning rate before the cosine decay
    ema_decay: float = 0.0  # per-step decay of an EMA of the weights, which replace them at the end (0 = off)

    def __post_init__(self):
        if self.keep_best is not None and self.ema_decay > 0:
            raise ValueError("keep_best and ema_decay exclude each other: which weights would be kept?")


LossFn = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]  # (outputs [T, N, C], labels [N]) -> loss
Encode = Callable[[torch.Tensor], torch.Tensor]  # batch [N, ...] -> model input [T, N, ...]
# (net, x [n, ...], y [n]) -> (mean loss over the batch, per-batch sums of statistics to average per sample)
StepFn = Callable[
    [nn.Module, torch.Tensor, torch.Tensor], tuple[torch.Tensor, dict[str, "float | torch.Tensor"]]
]


@dataclass(frozen=True, eq=False)
class Task:
    """What one training optimises and how an epoch is scored."""

    net: (
        nn.Module
    )  # called on every batch (wrapped in DDP under torchrun); its trainable parameters are optimised
    step: StepFn  # forward pass and loss of one batch
    score: Callable[[], dict[str, float]]  # end-of-epoch evaluation, e.g. {"test_accuracy": ...}
    modules: dict[str, nn.Module]  # what a checkpoint saves and restores, by name
    frozen: tuple[nn.Module, ...] = field(default=())  # stay in eval mode while training (frozen SNN)
    start_epoch: Callable[[int], None] | None = None  # called with each epoch's index before its first step


@torch.no_grad()
def evaluate(
    model: nn.Module,
    feed: Feed,
    encode: Encode,
    device: str = "cpu",
    speed: Speed = Speed(),
    tta: bool = False,
) -> tuple[np.ndarray, np.ndarray]:
    """Each timestep's own classifier output over one in-order pass of `feed`, `[T, N, C]` float32
    (not accumulated), and the labels `[N]`; with `tta`, each the mean over the input and its mirror."""
    model.eval()
    outs, labels = [], []
    forward = (lambda x: flip_tta(model, x)) if tta else model  # noqa: E731
    for xb, yb in feed.batches(None):
        with speed.autocast(device):
            outs.append(forward(speed.prepare_input(encode(xb.to(device)))).float().cpu())
        labels.append(yb.cpu())
    return torch.cat(outs, dim=1).numpy(), torch.cat(labels).numpy()


def timestep_logits(
    model: nn.Module, x: torch.Tensor, encode: Encode, batch_size: int = 256, device: str = "cpu"
) -> np.ndarray:
    """`evaluate` on the tensor `x` (reference speed path): `[T, N, C]` float32."""
    return evaluate(
        model, InMemoryFeed(x, torch.zeros(len(x), dtype=torch.long), batch_size), encode, device
    )[0]


def supervised_task(
    model: nn.Module,
    loss_fn: LossFn,
    encode: Encode,
    test: Feed,
    device: str = "cpu",
    speed: Speed = Speed(),
    holdout: Feed | None = None,
    tta: bool = False,
) -> Task:
    """The ANN and the directly trained SNN: `loss_fn(outputs [T, n, C], labels)` on the model's per-step
    outputs (in fp32 whatever the autocast); training accuracy of the output summed over all steps; test
    accuracy of the same on `test` after each epoch (and `holdout_accuracy` on `holdout` when given),
    with flip test-time augmentation when `tta`."""

    def step(net: nn.Module, xb: torch.Tensor, yb: torch.Tensor):
        with speed.autocast(device):
            outputs = net(speed.prepare_input(encode(xb)))  # [T, n, C]
        correct = (outputs.sum(0).argmax(-1) == yb).sum()  # a device tensor: no sync per step
        return loss_fn(outputs.float(), yb), {"train_accuracy": correct}

    def accuracy(feed: Feed) -> float:
        logits, labels = evaluate(model, feed, encode, device, speed, tta)
        return float((logits.sum(0).argmax(-1) == labels).mean())

    def score() -> dict[str, float]:
        scores = {"test_accuracy": accuracy(test)}
        return scores if holdout is None else {**scores, "holdout_accuracy": accuracy(holdout)}

    return Task(net=model, step=step, score=score, modules={"model": model})


def fit(
    task: Task, train: Feed, config: TrainConfig, ctx: TrainingContext = TrainingContext()
) -> dict[str, float]:
    """Train `task.net` in place; after each epoch call `ctx.on_epoch(epoch, metrics)`; return the last
    metrics: the mean training loss, the step's statistics averaged per sample, and `task.score()`.

    With `ctx.checkpointing`, the state is saved at epoch boundaries and a given `resume_state` is
    continued (its finished epochs are replayed to `on_epoch` first); a NaN or infinite loss raises
    FloatingPointError naming the epoch and step. Under torchrun, `train` yields this process's shard of
    every global batch, each process's loss is weighted by its share, and DDP averages the gradients.
    """
    device, execution = ctx.device, ctx.execution
    process = execution.process
    torch.manual_seed(config.seed)
    generator = torch.Generator().manual_seed(config.seed)
    task.net.to(device)
    execution.speed.prepare_model(task.net)
    net = wrap(task.net, process, device, execution.scaling.sync_batchnorm)  # before the optimiser sees it
    trained = [p for p in task.net.parameters() if p.requires_grad]
    optimizer = make_optimizer(trained, config.lr, config.momentum, config.weight_decay, config.nesterov)
    warmup = round(config.warmup_epochs * len(train))
    scheduler = make_schedule(optimizer, config.epochs * len(train), warmup)
    ema = make_ema(task.net, config.ema_decay)
    metrics: dict[str, float] = {}
    ckpt = ctx.checkpointing or Checkpointing(every=0)
    start, history = 0, []
    best: dict = {}  # with `config.keep_best`: {"value": best metric, "state": the modules' weights then}
    if ckpt.resume_state is not None:
        start, history = restore(ckpt.resume_state, task.modules, optimizer, scheduler, generator)
        best = ckpt.resume_state.get("best", {})
        if ema is not None:
            ema.load_state_dict(ckpt.resume_state["ema"])
    for epoch, past in enumerate(history):
        metrics = past
        if ctx.on_epoch is not None:
            ctx.on_epoch(epoch, past)
    quiet = None if process.is_main else True
    for epoch in tqdm(range(start, config.epochs), desc=ctx.desc, disable=quiet, leave=False):
        net.train()
        for module in task.frozen:
            module.eval()
        if task.start_epoch is not None:
            task.start_epoch(epoch)
        total_loss, sums, seen = 0.0, {}, 0
        for step, (xb, yb) in enumerate(train.batches(generator)):
            loss, stats = task.step(net, xb, yb)
            value = local = loss.item()
            if process.world > 1:  # weight by this shard's share, so DDP's average is the global mean
                n_global, loss_sum = all_sum([float(len(yb)), local * len(yb)], process, device)
                loss, value = loss * (len(yb) * process.world / n_global), loss_sum / n_global
            check_finite(value, epoch, step)  # the global loss, so every process stops together
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            scheduler.step()
            if ema is not None:
                ema.update_parameters(task.net)
            total_loss += local * len(yb)
            for key, v in stats.items():
                sums[key] = sums.get(key, 0) + v
            seen += len(yb)
        names = list(sums)
        local_sums = [v.item() if isinstance(v, torch.Tensor) else v for v in sums.values()]
        total_loss, *global_sums, seen = all_sum([total_loss, *local_sums, seen], process, device)
        metrics = {
            "loss": total_loss / seen,
            **{k: v / seen for k, v in zip(names, global_sums)},
            **task.score(),
        }
        history.append(metrics)
        if ctx.on_epoch is not None:
            ctx.on_epoch(epoch, metrics)
        if config.keep_best is not None and metrics[config.keep_best] > best.get("value", -math.inf):
            state = {name: copy.deepcopy(m.state_dict()) for name, m in task.modules.items()}
            best = {"value": metrics[config.keep_best], "epoch": epoch, "state": state}
        if ckpt.due(epoch, config.epochs):
            state = capture(task.modules, optimizer, scheduler, generator, epoch + 1, history)
            ckpt.save({**state, "best": best, **({"ema": ema.state_dict()} if ema else {})})
    if best:  # the kept epoch's weights replace the last epoch's (ties keep the earlier epoch)
        for name, module in task.modules.items():
            module.load_state_dict(best["state"][name])
        metrics = {**history[best["epoch"]], "kept_epoch": best["epoch"] + 1}
    if ema is not None:  # the averaged weights replace the trained ones, and are what the metrics score
        load_ema(task.net, ema)
        metrics = {**metrics, **task.score()}
    return metrics
