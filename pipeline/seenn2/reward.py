"""SEENN-II (paper sec. 3.4-3.5): a policy network picks each input's number of timesteps.

Action space: candidate timesteps `t_1 < ... < t_n`. The policy outputs `v = softmax(f_p(x))` `[N, n]`.
Reward (eq. 7): `1 / 2^t_k` when the SNN's accumulated output after t_k steps is correct, `-beta` when
wrong. The expected reward over the categorical policy is computed exactly from the SNN's outputs at
every candidate (eq. 10), so there is no Monte Carlo sampling: its gradient `sum_k R_k v_k grad log v_k`
is the gradient of `sum_k v_k R_k` with the rewards held constant.

Two training variants:
- `joint` (paper eq. 12, default): SNN and policy minimise `E_z[-R(z) + CE(f_{t_k}(x), y)]` together,
  i.e. `sum_k v_k (-R_k + CE_k)` per input, after the TET-only warm-up (the direct training stage).
- `released` (the released code, never called there): the SNN is frozen; reward `2^-(t_k - 1)` when
  correct, `-beta` when wrong; inputs correct at t = 1 weigh 1 and the others `rate / (1 - rate)`, with
  `rate` the SNN's 1-step training accuracy.
"""

import torch
import torch.nn.functional as F


def accumulated_at(outputs: torch.Tensor, candidates: torch.Tensor) -> torch.Tensor:
    """Running mean f_t(x) (paper eq. 3) at each candidate t: `[T, N, C]` -> `[n, N, C]`."""
    T = outputs.shape[0]
    steps = torch.arange(1, T + 1, device=outputs.device, dtype=outputs.dtype)
    running = outputs.cumsum(0) / steps[:, None, None]
    return running[candidates - 1]


def rewards(
    correct: torch.Tensor, candidates: torch.Tensor, beta: float, variant: str = "joint"
) -> torch.Tensor:
    """Eq. 7 for every input and candidate: `correct [n, N]` bool -> `[N, n]` float.

    `joint` (paper): 2^-t_k if correct else -beta; `released`: 2^-(t_k - 1) if correct else -beta.
    """
    if variant not in ("joint", "released"):
        raise ValueError(f"SEENN-II variant must be 'joint' or 'released', got {variant!r}")
    exponent = candidates.to(torch.float64) - (1.0 if variant == "released" else 0.0)
    gain = torch.pow(2.0, -exponent)[:, None].to(torch.float32)  # [n, 1]
    wrong = torch.full_like(gain, -float(beta))
    return torch.where(correct, gain, wrong).T  # [N, n]


def expected_reward(policy_logits: torch.Tensor, reward: torch.Tensor) -> torch.Tensor:
    """`E_{z ~ pi}[R(z)]` per input, exactly: `sum_k v_k R_k`, `[N]` (rewards are constants)."""
    v = policy_logits.softmax(dim=-1)  # [N, n]
    return (v * reward.detach()).sum(dim=-1)


def joint_loss(
    policy_logits: torch.Tensor,
    outputs: torch.Tensor,
    labels: torch.Tensor,
    candidates: torch.Tensor,
    beta: float,
) -> tuple[torch.Tensor, dict[str, float]]:
    """Paper eq. 12 for a batch: mean over inputs of `sum_k v_k (-R_k + CE(f_{t_k}(x), y))`.

    policy_logits `[N, n]`, outputs `[T, N, C]` (the SNN's per-step outputs), labels `[N]`.
    """
    acc = accumulated_at(outputs, candidates)  # [n, N, C]
    n, N, C = acc.shape
    ce = F.cross_entropy(acc.reshape(n * N, C), labels.repeat(n), reduction="none").view(n, N).T  # [N, n]
    correct = acc.argmax(-1) == labels[None, :]  # [n, N]
    reward = rewards(correct, candidates, beta, "joint")  # [N, n]
    v = policy_logits.softmax(dim=-1)
    loss = (v * (ce - reward)).sum(dim=-1).mean()
    v_ = v.detach()
    return loss, {
        "expected_reward": float((v_ * reward).sum(-1).mean()),
        "ce": float((v_ * ce.detach()).sum(-1).mean()),
    }


def split_joint_loss(
    policy_logits: torch.Tensor,
    held_outputs: torch.Tensor,
    held_labels: torch.Tensor,
    own_policy_logits: torch.Tensor,
    own_outputs: torch.Tensor,
    own_labels: torch.Tensor,
    candidates: torch.Tensor,
    beta: float,
) -> tuple[torch.Tensor, dict[str, float]]:
    """Eq. 12 with the policy on data the SNN has not fit (`seenn2.policy_data: holdout`).

    The policy term is eq. 12 on held-out inputs: `mean_h sum_k v_k (CE_k - R_k)`, where the SNN's outputs
    `held_outputs [T, Nh, C]` (inference mode, no gradient) only set the constants CE_k and R_k; the
    gradient reaches the policy alone. The SNN term keeps training the SNN on its own split:
    `mean_t sum_k v_k CE_k` on `own_outputs [T, Nt, C]`, with the policy's probabilities `v_k` on those
    inputs as constant weights. Their sum is the loss.
    """
    acc = accumulated_at(held_outputs.detach(), candidates)  # [n, Nh, C]
    n, N, C = acc.shape
    ce = F.cross_entropy(acc.reshape(n * N, C), held_labels.repeat(n), reduction="none").view(n, N).T
    correct = acc.argmax(-1) == held_labels[None, :]  # [n, Nh]
    reward = rewards(correct, candidates, beta, "joint")  # [Nh, n]
    v = policy_logits.softmax(dim=-1)  # [Nh, n]
    policy_term = (v * (ce - reward)).sum(dim=-1).mean()
    own = accumulated_at(own_outputs, candidates)  # [n, Nt, C]
    n, N, C = own.shape
    own_ce = F.cross_entropy(own.reshape(n * N, C), own_labels.repeat(n), reduction="none").view(n, N).T
    snn_term = (own_policy_logits.softmax(dim=-1).detach() * own_ce).sum(dim=-1).mean()
    v_ = v.detach()
    parts = {"expected_reward": float((v_ * reward).sum(-1).mean()), "ce": float(snn_term.detach())}
    return policy_term + snn_term, parts


def released_loss(
    policy_logits: torch.Tensor,
    outputs: torch.Tensor,
    labels: torch.Tensor,
    candidates: torch.Tensor,
    beta: float,
    rate: float,
) -> tuple[torch.Tensor, dict[str, float]]:
    """The released code's policy loss with a frozen SNN: `-mean_i w_i sum_k v_ik R_ik`."""
    acc = accumulated_at(outputs.detach(), candidates)  # [n, N, C]
    correct = acc.argmax(-1) == labels[None, :]  # [n, N]
    reward = rewards(correct, candidates, beta, "released")  # [N, n]
    first_correct = (outputs[0].detach().argmax(-1) == labels).float()  # [N]: correct with 1 step
    rest = rate / (1.0 - rate) if rate < 1.0 else 1.0
    weight = first_correct + (1 - first_correct) * rest
    er = expected_reward(policy_logits, reward)
    return -(weight * er).mean(), {"expected_reward": float(er.detach().mean())}


def choose_timesteps(policy_logits: torch.Tensor, candidates: torch.Tensor) -> torch.Tensor:
    """Inference: the policy's argmax picks each input's number of timesteps, `[N]` (1-based)."""
    return candidates[policy_logits.argmax(dim=-1)]
