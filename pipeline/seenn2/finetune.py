"""SEENN-II finetuning: the policy network (and, in the paper's joint variant, the SNN) trained with the
exact expected reward through the project's one training loop, then evaluated: the policy picks T for
each input before the SNN runs."""

import numpy as np
import torch
from torch import nn

from pipeline.core.config import DirectRun, SeennIIParams, candidate_steps
from pipeline.data.augment import AugmentSpec
from pipeline.data.feed import Feed
from pipeline.data.prepared import DatasetInfo, PreparedData, to_sequence
from pipeline.exits.policies import chosen_exit
from pipeline.seenn2.policy import build_policy, policy_input, policy_logits
from pipeline.seenn2.reward import choose_timesteps, joint_loss, released_loss
from pipeline.training.context import TrainingContext
from pipeline.training.determinism import seed_everything
from pipeline.training.feeds import eval_feed, training_feed
from pipeline.training.loop import Task, TrainConfig, evaluate, fit


class PolicyAndSnn(nn.Module):
    """The two networks SEENN-II trains, as one module: DDP wraps (and synchronises) both, and one call
    gives the policy's logits `[N, n]` and the SNN's per-step outputs `[T, N, C]` for a batch `[N, ...]`."""

    def __init__(
        self, snn: nn.Module, policy: nn.Module, info: DatasetInfo, T: int, policy_size: int, frozen_snn: bool
    ):
        super().__init__()
        self.snn, self.policy = snn, policy
        self.info, self.T, self.policy_size, self.frozen_snn = info, T, policy_size, frozen_snn

    def forward(self, x: torch.Tensor, prepare=lambda seq: seq) -> tuple[torch.Tensor, torch.Tensor]:
        logits = self.policy(policy_input(x, self.info, self.policy_size))[0]  # [N, n]
        with torch.no_grad() if self.frozen_snn else torch.enable_grad():
            outputs = self.snn(prepare(to_sequence(x, self.info, self.T)))  # [T, N, C]
        return logits, outputs


def seenn2_task(
    snn: nn.Module,
    policy: nn.Module,
    data: PreparedData,
    T: int,
    candidates: tuple[int, ...],
    beta: float,
    variant: str,
    policy_size: int,
    test: Feed,
    ctx: TrainingContext,
) -> Task:
    """SEENN-II as a `Task` for `fit`.

    `joint` (paper eq. 12): SNN and policy minimise `sum_k v_k (CE_k - R_k)` together. `released`: the SNN
    is frozen (out of the optimiser, in eval mode) and the policy maximises the released code's weighted
    expected reward; its weight uses the SNN's 1-step accuracy on the (unaugmented) training set.
    """
    device, speed = ctx.device, ctx.execution.speed
    frozen = variant != "joint"
    if frozen:
        for p in snn.parameters():
            p.requires_grad_(False)
        first, labels = evaluate(
            snn.to(device),
            eval_feed(data, "train", device, ctx.execution),
            lambda x: to_sequence(x, data.info, 1),
            device,
        )
        rate = float((first[0].argmax(-1) == labels).mean())  # the SNN's 1-step training accuracy
    pair = PolicyAndSnn(snn, policy, data.info, T, policy_size, frozen)
    cand = torch.tensor(candidates, device=device)

    def step(net: nn.Module, xb: torch.Tensor, yb: torch.Tensor):
        with speed.autocast(device):
            logits, outputs = net(xb, speed.prepare_input)
        if frozen:
            loss, parts = released_loss(logits.float(), outputs.float(), yb, cand, beta, rate)
        else:
            loss, parts = joint_loss(logits.float(), outputs.float(), yb, cand, beta)
        return loss, {k: v * len(yb) for k, v in parts.items()}

    def score() -> dict[str, float]:
        logits, choice, _, labels = evaluate_seenn2(
            snn, policy, test, data.info, T, candidates, policy_size, device
        )
        return {
            "test_accuracy": chosen_exit(logits, choice).accuracy(labels),
            "test_avg_timesteps": float(choice.mean()),
        }

    frozen_modules = (snn,) if frozen else ()
    return Task(
        net=pair, step=step, score=score, modules={"snn": snn, "policy": policy}, frozen=frozen_modules
    )


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
        logits = policy_logits(policy, xb, info, policy_size)
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
    ctx: TrainingContext = TrainingContext(),
) -> tuple[nn.Module, nn.Module, dict[str, float], tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """SEENN-II on a TET-trained SNN: build the ResNet-8 policy, finetune, evaluate on the test set.

    Returns the SNN, the policy, the last epoch's metrics and `(logits [T, N, C], choice [N],
    probs [N, n])` of the test set."""
    seed_everything(seed)
    candidates = candidate_steps(seenn2.candidates, run.T)
    policy = build_policy(len(candidates), data.info, seenn2.policy_width, seenn2.policy_input_size)
    config = TrainConfig(
        epochs=seenn2.epochs,
        batch_size=seenn2.batch_size,
        lr=seenn2.lr,
        momentum=seenn2.momentum,
        weight_decay=seenn2.weight_decay,
        seed=seed,
        augment=AugmentSpec(shift=seenn2.shift, flip=seenn2.flip),
    )
    train = training_feed(data, config, ctx.device, ctx.execution)
    test = eval_feed(data, "test", ctx.device, ctx.execution)
    task = seenn2_task(
        snn, policy, data, run.T, candidates, beta, seenn2.variant, seenn2.policy_input_size, test, ctx
    )
    metrics = fit(task, train, config, ctx)
    size = seenn2.policy_input_size
    logits, choice, probs, _ = evaluate_seenn2(
        snn, policy, test, data.info, run.T, candidates, size, ctx.device
    )
    return snn, policy, metrics, (logits, choice, probs)
