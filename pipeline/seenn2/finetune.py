"""SEENN-II finetuning: the policy network (and, in the paper's joint variant, the SNN) trained with the
exact expected reward, then evaluated: the policy picks T for each input before the SNN runs."""

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from tqdm.auto import tqdm

from pipeline.data.augment import AugmentSpec
from pipeline.training.checkpoint import Checkpointing, capture, check_finite, restore
from pipeline.exits.policies import chosen_exit
from pipeline.data.prepared import DatasetInfo, to_sequence
from pipeline.data.feed import Feed
from pipeline.core.config import DirectRun, SeennIIParams, candidate_steps
from pipeline.data.prepared import PreparedData
from pipeline.seenn2.policy import _policy_logits, build_policy
from pipeline.snn.networks import seed_everything
from pipeline.training.recipes import EpochCallback, Execution, feeds
from pipeline.seenn2.reward import choose_timesteps, joint_loss, released_loss
from pipeline.training.loop import evaluate


@dataclass(frozen=True)
class FinetuneConfig:
    candidates: tuple[int, ...]  # the action space t_1 < ... < t_n (1-based timesteps)
    beta: float  # penalty for a wrong prediction (eq. 7)
    variant: str = "joint"  # "joint" (paper eq. 12) or "released" (frozen SNN, released code)
    epochs: int = 10  # finetuning epochs
    batch_size: int = 64  # samples per step
    lr: float = 0.01  # paper: 0.01 for both networks
    momentum: float = 0.9  # paper: 0.9; the released code: 0
    weight_decay: float = 5e-4  # L2 penalty
    seed: int = 0  # shuffling
    augment: AugmentSpec = AugmentSpec()  # training-time augmentation (none by default)


def finetune_seenn2(
    snn: nn.Module,
    policy: nn.Module,
    train: Feed,
    test: Feed,
    info: DatasetInfo,
    T: int,
    config: FinetuneConfig,
    policy_size: int = 0,
    device: str = "cpu",
    on_epoch: Callable[[int, dict[str, float]], None] | None = None,
    checkpointing: Checkpointing | None = None,
) -> dict[str, float]:
    """Train in place on the shuffled, augmented `train` feed; return the last epoch's metrics (expected
    reward, SEENN-II accuracy and T on the in-order `test` feed). Checkpointing and the NaN guard work
    as in `pipeline.training.loop.fit`."""
    torch.manual_seed(config.seed)
    generator = torch.Generator().manual_seed(config.seed)
    candidates = torch.tensor(config.candidates, device=device)
    snn.to(device)
    policy.to(device)
    encode = lambda x: to_sequence(x, info, T)  # noqa: E731  [T, N, C, H, W]
    if config.variant == "joint":
        params = list(snn.parameters()) + list(policy.parameters())
        rate = 0.0
    else:
        for p in snn.parameters():
            p.requires_grad_(False)
        params = list(policy.parameters())
        first, labels = evaluate(snn, train, lambda x: to_sequence(x, info, 1), device)
        rate = float((first[0].argmax(-1) == labels).mean())  # the SNN's 1-step training accuracy
    optimizer = torch.optim.SGD(params, lr=config.lr, momentum=config.momentum, weight_decay=config.weight_decay)
    steps = config.epochs * len(train)
    scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=steps)
    metrics: dict[str, float] = {}
    ckpt = checkpointing or Checkpointing(every=0)
    modules = {"snn": snn, "policy": policy}
    start, history = 0, []
    if ckpt.resume_state is not None:
        start, history = restore(ckpt.resume_state, modules, optimizer, scheduler, generator)
    for epoch, past in enumerate(history):
        metrics = past
        if on_epoch is not None:
            on_epoch(epoch, past)
    for epoch in tqdm(range(start, config.epochs), desc="finetune", disable=None, leave=False):
        snn.train(config.variant == "joint")
        policy.train()
        total, seen = {}, 0
        for step, (xb, yb) in enumerate(train.batches(generator)):
            logits = _policy_logits(policy, xb, info, policy_size)  # [N, n]
            if config.variant == "joint":
                outputs = snn(encode(xb))  # [T, N, C]
                loss, parts = joint_loss(logits, outputs, yb, candidates, config.beta)
            else:
                with torch.no_grad():
                    outputs = snn(encode(xb))
                loss, parts = released_loss(logits, outputs, yb, candidates, config.beta, rate)
            check_finite(loss.item(), epoch, step)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            scheduler.step()
            for k, v in {"loss": loss.item(), **parts}.items():
                total[k] = total.get(k, 0.0) + v * len(yb)
            seen += len(yb)
        test_logits, choice, _, labels = evaluate_seenn2(snn, policy, test, info, T, config.candidates, policy_size, device)
        acc = chosen_exit(test_logits, choice).accuracy(labels)
        metrics = {**{k: v / seen for k, v in total.items()}, "test_accuracy": acc, "test_avg_timesteps": float(choice.mean())}
        history.append(metrics)
        if on_epoch is not None:
            on_epoch(epoch, metrics)
        if ckpt.due(epoch, config.epochs):
            ckpt.save(capture(modules, optimizer, scheduler, generator, epoch + 1, history))
    return metrics


@torch.no_grad()
def evaluate_seenn2(
    snn: nn.Module,
    policy: nn.Module,
    test: Feed,
    info: DatasetInfo,
    T: int,
    candidates: tuple[int, ...],
    policy_size: int = 0,
    device: str = "cpu",
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """On one in-order pass of `test`: the SNN's outputs `[T, N, C]` (all steps, so every exit
    recomputes), the policy's chosen timesteps `[N]`, its probabilities `[N, n]` and the labels `[N]`."""
    policy.eval()
    snn.eval()
    cand = torch.tensor(candidates, device=device)
    outputs, probs, choice, labels = [], [], [], []
    for xb, yb in test.batches(None):
        xb = xb.to(device)
        logits = _policy_logits(policy, xb, info, policy_size)
        probs.append(logits.softmax(-1).cpu())
        choice.append(choose_timesteps(logits, cand).cpu())
        outputs.append(snn(to_sequence(xb, info, T)).float().cpu())
        labels.append(yb.cpu())
    return (
        torch.cat(outputs, dim=1).numpy(),
        torch.cat(choice).numpy().astype(np.int64),
        torch.cat(probs).numpy(),
        torch.cat(labels).numpy(),
    )


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
    execution: Execution = Execution(),
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
    train, test = feeds(data, config, device, execution)
    metrics = finetune_seenn2(
        snn, policy, train, test, data.info, run.T, config, seenn2.policy_input_size, device, on_epoch, checkpointing
    )
    logits, choice, probs, _ = evaluate_seenn2(snn, policy, test, data.info, run.T, candidates, seenn2.policy_input_size, device)
    return snn, policy, metrics, (logits, choice, probs)
