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
from pipeline.seenn2.reward import choose_timesteps, joint_loss, released_loss, split_joint_loss
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

    def forward(
        self, x: torch.Tensor, prepare=lambda seq: seq, snn_x: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Policy logits on `x` and the SNN's outputs on `snn_x` (default: `x` too)."""
        logits = self.policy(policy_input(x, self.info, self.policy_size))[0]  # [N, n]
        snn_x = x if snn_x is None else snn_x
        with torch.no_grad() if self.frozen_snn else torch.enable_grad():
            outputs = self.snn(prepare(to_sequence(snn_x, self.info, self.T)))  # [T, N', C]
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
    held: "HeldOutBatches | None" = None,
    rate_split: str = "train",
) -> Task:
    """SEENN-II as a `Task` for `fit`.

    `joint` (paper eq. 12): SNN and policy minimise `sum_k v_k (CE_k - R_k)` together, on the batches
    `fit` gives (the SNN's own training inputs) or, with `held`, the policy on held-out batches and the
    SNN on its own (`split_joint_loss`). `released`: the SNN is frozen (out of the optimiser, in eval
    mode) and the policy maximises the released code's weighted expected reward on the batches `fit`
    gives; its weight uses the SNN's 1-step accuracy on the (unaugmented) `rate_split`.
    """
    device, speed = ctx.device, ctx.execution.speed
    frozen = variant != "joint"
    if frozen:
        for p in snn.parameters():
            p.requires_grad_(False)
        first, labels = evaluate(
            snn.to(device),
            eval_feed(data, rate_split, device, ctx.execution),
            lambda x: to_sequence(x, data.info, 1),
            device,
        )
        rate = float((first[0].argmax(-1) == labels).mean())  # the SNN's 1-step training accuracy
    pair = PolicyAndSnn(snn, policy, data.info, T, policy_size, frozen)
    cand = torch.tensor(candidates, device=device)

    def step(net: nn.Module, xb: torch.Tensor, yb: torch.Tensor):
        if held is not None and not frozen:
            return split_step(net, xb, yb)
        with speed.autocast(device):
            logits, outputs = net(xb, speed.prepare_input)
        if frozen:
            loss, parts = released_loss(logits.float(), outputs.float(), yb, cand, beta, rate)
        else:
            loss, parts = joint_loss(logits.float(), outputs.float(), yb, cand, beta)
        return loss, {k: v * len(yb) for k, v in parts.items()}

    def split_step(net: nn.Module, xb: torch.Tensor, yb: torch.Tensor):
        """Policy on a held-out batch (the SNN's outputs there in inference mode, no gradient), SNN on its
        own batch `xb`: one call of `net`, so DDP sees one forward."""
        x_h, y_h = held.next()
        with torch.no_grad():
            snn.eval()
            with speed.autocast(device):
                held_outputs = snn(speed.prepare_input(to_sequence(x_h, data.info, T)))  # [T, Nh, C]
            snn.train()
        with speed.autocast(device):
            logits, own_outputs = net(torch.cat([x_h, xb]), speed.prepare_input, snn_x=xb)
        loss, parts = split_joint_loss(
            logits[: len(x_h)].float(),
            held_outputs.float(),
            y_h,
            logits[len(x_h) :].float(),
            own_outputs.float(),
            yb,
            cand,
            beta,
        )
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
        net=pair,
        step=step,
        score=score,
        modules={"snn": snn, "policy": policy},
        frozen=frozen_modules,
        start_epoch=held.restart if held is not None else None,
    )


class HeldOutBatches:
    """Shuffled, augmented batches of the held-out split, drawn as the SNN's own batches go by: restarted at
    every epoch from a generator seeded by (seed, epoch), so a run resumed at an epoch boundary draws the
    same batches; cycles when an epoch needs more batches than the split holds."""

    def __init__(self, feed: Feed, seed: int):
        self.feed, self.seed = feed, seed
        self._batches = iter(())

    def restart(self, epoch: int) -> None:
        self._generator = torch.Generator().manual_seed(self.seed * 1000 + epoch + 1)
        self._batches = self.feed.batches(self._generator)

    def next(self) -> tuple[torch.Tensor, torch.Tensor]:
        batch = next(self._batches, None)
        if batch is None:  # the split is exhausted: a new pass with the same generator
            self._batches = self.feed.batches(self._generator)
            batch = next(self._batches)
        return batch


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
    test = eval_feed(data, "test", ctx.device, ctx.execution)
    holdout = seenn2.policy_data == "holdout"
    held, rate_split = None, "train"
    if holdout and seenn2.variant == "joint":  # policy on held-out batches, SNN on its own split
        train = training_feed(data, config, ctx.device, ctx.execution)
        held = HeldOutBatches(training_feed(data, config, ctx.device, ctx.execution, split="holdout"), seed)
    elif holdout:  # frozen SNN: the policy alone learns, from held-out batches
        train = training_feed(data, config, ctx.device, ctx.execution, split="holdout")
        rate_split = "holdout"
    else:  # the paper's way: the SNN's own training inputs
        train = training_feed(data, config, ctx.device, ctx.execution)
    task = seenn2_task(
        snn,
        policy,
        data,
        run.T,
        candidates,
        beta,
        seenn2.variant,
        seenn2.policy_input_size,
        test,
        ctx,
        held,
        rate_split,
    )
    metrics = fit(task, train, config, ctx)
    size = seenn2.policy_input_size
    logits, choice, probs, _ = evaluate_seenn2(
        snn, policy, test, data.info, run.T, candidates, size, ctx.device
    )
    return snn, policy, metrics, (logits, choice, probs)
