"""SEENN-II (paper sec. 3.4-3.5): reward (eq. 7), exact policy gradient (eq. 10), the joint (eq. 12) and
released losses, the chosen exit, the seenn2 params rules and the `finetune` command."""

import copy
import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
import torch.nn.functional as F
import yaml
from typer.testing import CliRunner

from pipeline.exits.points import POINT_COLUMNS
from pipeline.core.config import ParamsError, candidate_steps, parse_params
from pipeline.exits.policies import chosen_exit
from pipeline.seenn2.reward import (
    accumulated_at,
    choose_timesteps,
    expected_reward,
    joint_loss,
    released_loss,
    rewards,
)
from stages.cli import app

ROOT = Path(__file__).resolve().parents[2]


# --- reward (eq. 7) and running outputs ---------------------------------------------------------------
def test_joint_reward_is_two_to_minus_t_or_minus_beta():
    """Paper eq. 7: 1/2^t when correct, -beta when wrong; `[n, N]` in, `[N, n]` out."""
    cand = torch.tensor([1, 2, 4])
    correct = torch.tensor([[True, False], [True, True], [True, False]])  # [n=3, N=2]
    r = rewards(correct, cand, beta=0.3)
    assert r.shape == (2, 3)
    assert torch.allclose(r[0], torch.tensor([0.5, 0.25, 0.0625]))
    assert torch.allclose(r[1], torch.tensor([-0.3, 0.25, -0.3]))


def test_released_reward_starts_at_one():
    """The released code's reward: 2^-(t-1) when correct (1 at t = 1), -beta when wrong."""
    cand = torch.tensor([1, 2, 4])
    correct = torch.tensor([[True], [False], [True]])
    r = rewards(correct, cand, beta=2.0, variant="released")
    assert torch.allclose(r, torch.tensor([[1.0, -2.0, 0.125]]))


def test_reward_refuses_unknown_variant():
    """A variant other than joint/released raises ValueError."""
    with pytest.raises(ValueError, match="variant"):
        rewards(torch.ones(2, 1, dtype=torch.bool), torch.tensor([1, 2]), 0.1, "sampled")


def test_accumulated_at_is_the_running_mean_at_each_candidate():
    """f_t(x) = mean of the first t per-step outputs, picked at t in candidates (1-based)."""
    outputs = torch.tensor([[[1.0, 0.0]], [[3.0, 2.0]], [[-1.0, 4.0]], [[5.0, -6.0]]])  # [T=4, N=1, C=2]
    acc = accumulated_at(outputs, torch.tensor([1, 3, 4]))
    expected = torch.tensor([[[1.0, 0.0]], [[1.0, 2.0]], [[2.0, 0.0]]])
    assert acc.shape == (3, 1, 2)
    assert torch.allclose(acc, expected)


# --- exact policy gradient (eq. 10) vs REINFORCE (eq. 9) -----------------------------------------------
def test_exact_gradient_matches_sampled_reinforce():
    """grad of sum_k v_k R_k equals eq. 10 and the mean of 200k sampled R(z) grad log v_z estimates."""
    torch.manual_seed(0)
    N, d, n, S = 4, 5, 3, 200_000
    x = torch.randn(N, d, dtype=torch.float64)
    policy = torch.nn.Linear(d, n).double()
    correct = torch.tensor(
        [[True, False, True, False], [True, True, False, False], [True, True, True, False]]
    )
    R = rewards(correct, torch.tensor([1, 2, 4]), beta=1.0).double()  # [N, n]

    expected_reward(policy(x), R).sum().backward()
    exact = torch.cat([policy.weight.grad.flatten(), policy.bias.grad])
    policy.zero_grad()

    # eq. 10 written out: sum_k R_k v_k grad log v_k
    v = policy(x).softmax(-1)
    (R * v.detach() * v.log()).sum().backward()
    eq10 = torch.cat([policy.weight.grad.flatten(), policy.bias.grad])
    policy.zero_grad()
    assert torch.allclose(exact, eq10, rtol=1e-10, atol=1e-12)

    # REINFORCE: per sample, grad_logits log v_z = onehot(z) - v, times R(z), chained through the layer
    v = v.detach()
    z = torch.distributions.Categorical(probs=v).sample((S,))  # [S, N]
    r = R[torch.arange(N), z]  # [S, N]
    g_logits = r[..., None] * (F.one_hot(z, n).double() - v)  # [S, N, n]
    per_sample = torch.cat([torch.einsum("sni,nd->sid", g_logits, x).reshape(S, -1), g_logits.sum(1)], dim=1)

    # the closed form agrees with autograd on a batched sum over a few of the samples
    s = 500
    logv = policy(x).log_softmax(-1)  # [N, n]
    (r[:s] * logv[torch.arange(N), z[:s]]).sum().div(s).backward()
    auto = torch.cat([policy.weight.grad.flatten(), policy.bias.grad])
    assert torch.allclose(auto, per_sample[:s].mean(0), rtol=1e-9, atol=1e-12)

    mean = per_sample.mean(0)
    se = per_sample.std(0) / math.sqrt(S)
    assert torch.all((mean - exact).abs() < 5 * se + 1e-12), (mean, exact, se)
    assert (mean - exact).norm() / exact.norm() < 0.02


# --- a problem with a known answer --------------------------------------------------------------------
def _easy_hard_problem(seed: int, N: int = 128, T: int = 4):
    """Fake SNN outputs `[T, N, 2]`: easy inputs correct from t = 1, hard ones only at t = T; a policy
    feature +1 (easy) / -1 (hard) plus noise."""
    g = torch.Generator().manual_seed(seed)
    easy = torch.arange(N) % 2 == 0
    labels = torch.randint(0, 2, (N,), generator=g)
    sign = torch.where(labels == 0, 1.0, -1.0)  # + favours class 0
    margin = torch.ones(T, N)  # easy: class `label` ahead by 1 at every step
    margin[:, ~easy] = -1.0  # hard: wrong for t < T ...
    margin[-1, ~easy] = 10.0  # ... and the last step turns the running mean: (-(T-1) + 10) / T > 0
    outputs = torch.stack([margin * sign / 2, -margin * sign / 2], dim=-1)  # [T, N, 2]
    feature = torch.where(easy, 1.0, -1.0)[:, None] + 0.1 * torch.randn(N, 1, generator=g)
    return outputs, labels, feature, easy


@pytest.mark.parametrize("objective", ["expected_reward", "joint_loss"])
@pytest.mark.parametrize("beta", [0.5, 0.0])
def test_policy_learns_easy_to_one_step_and_hard_to_T(objective, beta):
    """Trained on exact expected reward, the policy sends easy inputs to t = 1 and hard ones to t = T."""
    T = 4
    cand = torch.arange(1, T + 1)
    outputs, labels, feature, easy = _easy_hard_problem(0)
    correct = accumulated_at(outputs, cand).argmax(-1) == labels[None, :]
    assert correct[:, easy].all() and not correct[:-1, ~easy].any() and correct[-1].all()
    R = rewards(correct, cand, beta)
    torch.manual_seed(0)
    policy = torch.nn.Linear(1, T)
    opt = torch.optim.Adam(policy.parameters(), lr=0.05)
    for _ in range(300):
        logits = policy(feature)
        if objective == "expected_reward":
            loss = -expected_reward(logits, R).mean()
        else:
            loss, _ = joint_loss(logits, outputs, labels, cand, beta)
        opt.zero_grad()
        loss.backward()
        opt.step()
    test_outputs, test_labels, test_feature, test_easy = _easy_hard_problem(1)
    with torch.no_grad():
        choice = choose_timesteps(policy(test_feature), cand)
    assert (choice[test_easy] == 1).all()
    assert (choice[~test_easy] == T).all()
    decision = chosen_exit(test_outputs.numpy(), choice.numpy())
    assert decision.accuracy(test_labels.numpy()) == 1.0
    assert decision.avg_timesteps() == pytest.approx((1 + T) / 2)


# --- the losses -------------------------------------------------------------------------------------
def test_joint_loss_by_hand_and_its_gradients():
    """Eq. 12 on T=2, N=1, C=2, n=2: sum_k v_k (CE_k - R_k); gradients reach policy logits and SNN outputs."""
    beta = 0.7
    outputs = torch.tensor([[[2.0, 0.0]], [[-4.0, 0.0]]], requires_grad=True)  # running mean: [2,0], [-1,0]
    logits = torch.tensor([[0.3, -0.2]], requires_grad=True)
    labels = torch.tensor([0])
    loss, parts = joint_loss(logits, outputs, labels, torch.tensor([1, 2]), beta)

    v = np.exp([0.3, -0.2]) / np.exp([0.3, -0.2]).sum()
    ce = np.array([math.log(1 + math.exp(-2.0)), math.log(1 + math.e)])  # correct at t=1, wrong at t=2
    reward = np.array([0.5, -beta])
    L = ce - reward
    assert loss.item() == pytest.approx(float(v @ L), rel=1e-6)
    assert parts["expected_reward"] == pytest.approx(float(v @ reward), rel=1e-6)
    assert parts["ce"] == pytest.approx(float(v @ ce), rel=1e-6)

    loss.backward()
    assert np.allclose(logits.grad.numpy()[0], v * (L - v @ L), atol=1e-6)
    y = np.array([1.0, 0.0])
    p1 = np.exp([2.0, 0.0]) / np.exp([2.0, 0.0]).sum()
    p2 = np.exp([-1.0, 0.0]) / np.exp([-1.0, 0.0]).sum()
    grad_out = np.stack([v[0] * (p1 - y) + v[1] * (p2 - y) / 2, v[1] * (p2 - y) / 2])
    assert np.allclose(outputs.grad.numpy()[:, 0], grad_out, atol=1e-6)


def test_released_loss_weights_and_frozen_snn():
    """Released loss: weight 1 for inputs correct at t=1, rate/(1-rate) for the rest; no SNN gradient."""
    beta, rate = 0.4, 0.75
    # N=3, T=2, C=2, label 0: input 0 correct at t=1 and 2; input 1 wrong at 1, right at 2; input 2 never
    outputs = torch.tensor(
        [[[1.0, 0.0], [0.0, 1.0], [0.0, 1.0]], [[1.0, 0.0], [4.0, 0.0], [0.0, 1.0]]], requires_grad=True
    )
    labels = torch.zeros(3, dtype=torch.long)
    logits = torch.tensor([[0.0, 0.0], [1.0, -1.0], [-0.5, 0.5]], requires_grad=True)
    loss, parts = released_loss(logits, outputs, labels, torch.tensor([1, 2]), beta, rate)

    v = logits.detach().softmax(-1).numpy()
    R = np.array([[1.0, 0.5], [-beta, 0.5], [-beta, -beta]])
    w = np.array([1.0, 3.0, 3.0])  # rate / (1 - rate) = 3
    er = (v * R).sum(-1)
    assert loss.item() == pytest.approx(-(w * er).mean(), rel=1e-6)
    assert parts["expected_reward"] == pytest.approx(er.mean(), rel=1e-6)

    loss.backward()
    assert outputs.grad is None
    expected_grad = -(w / 3)[:, None] * v * (R - er[:, None])
    assert np.allclose(logits.grad.numpy(), expected_grad, atol=1e-6)

    # a perfect 1-step SNN (rate 1) weighs every input 1
    loss1, _ = released_loss(logits.detach(), outputs.detach(), labels, torch.tensor([1, 2]), beta, 1.0)
    assert loss1.item() == pytest.approx(-er.mean(), rel=1e-6)


def test_choose_timesteps_is_the_argmax_candidate():
    """Inference picks the candidate with the largest policy logit."""
    logits = torch.tensor([[0.1, 2.0, -1.0], [3.0, 0.0, 0.0], [0.0, 0.0, 5.0]])
    assert choose_timesteps(logits, torch.tensor([1, 2, 4])).tolist() == [2, 1, 4]


# --- chosen exit -------------------------------------------------------------------------------------
def test_chosen_exit_predicts_from_the_accumulated_output():
    """Each input's prediction is the argmax of the running sum after its chosen number of steps."""
    logits = np.array(
        [
            [[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]],
            [[0.0, 3.0, 0.0], [0.0, 0.0, 3.0], [3.0, 0.0, 0.0]],
            [[0.0, 0.0, 9.0], [9.0, 0.0, 0.0], [0.0, 9.0, 0.0]],
        ]
    )  # [T=3, N=3, C=3]
    d = chosen_exit(logits, np.array([1, 2, 3]))
    assert d.prediction.tolist() == [0, 2, 1]
    assert d.exit_step.tolist() == [1, 2, 3] and d.exit_step.dtype == np.int64
    assert d.avg_timesteps() == 2.0
    assert d.accuracy(np.array([0, 2, 0])) == pytest.approx(2 / 3)
    assert chosen_exit(logits, [3, 3, 1]).prediction.tolist() == [2, 0, 2]


@pytest.mark.parametrize("steps", [[0, 1, 1], [1, 4, 1], [1, 2], [[1, 2, 3]]])
def test_chosen_exit_refuses_bad_steps(steps):
    """Steps outside 1..T, or not one per input, raise ValueError."""
    with pytest.raises(ValueError, match="exit_step"):
        chosen_exit(np.zeros((3, 3, 2)), np.array(steps))


# --- params -----------------------------------------------------------------------------------------
BASE = yaml.safe_load((ROOT / "params.yaml").read_text())


def _with(**seenn2):
    params = copy.deepcopy(BASE)
    params.setdefault("seenn2", {}).update(seenn2)
    return params


@pytest.mark.parametrize(
    "raw,needle",
    [
        (_with(candidates=[]), "seenn2.candidates"),
        (_with(candidates=[1, 2, 99]), "seenn2.candidates"),
        (_with(candidates=[2, 1]), "seenn2.candidates"),
        (_with(candidates=[1, 1, 2]), "seenn2.candidates"),
        (_with(candidates=[0, 1]), "seenn2.candidates"),
        (_with(runs=["no-such-run"]), "seenn2.runs[0]"),
        (_with(betas=[0.1, -0.5]), "seenn2.betas[1]"),
        ({**copy.deepcopy(BASE), "beta": -1}, "beta = -1"),
        (_with(variant="sampled"), "seenn2.variant"),
    ],
)
def test_bad_seenn2_params_fail_with_one_line(raw, needle):
    """Each bad seenn2 value (or a negative beta) raises a one-line ParamsError naming the key."""
    with pytest.raises(ParamsError) as info:
        parse_params(raw)
    message = str(info.value)
    assert "\n" not in message and needle in message, message


def test_seenn2_params_accept_valid_lists_and_all():
    """The committed params pass; an increasing list within every run's T passes; 'all' means 1..T."""
    assert parse_params(BASE).seenn2.runs
    T = min(r["T"] for name, r in BASE["direct"].items() if name in BASE["seenn2"]["runs"])
    assert parse_params(_with(candidates=[1, T])).seenn2.candidates == [1, T]
    assert candidate_steps("all", 4) == (1, 2, 3, 4)
    assert candidate_steps([1, 3], 4) == (1, 3)


# --- the finetune command ------------------------------------------------------------------------------
TINY = {
    "seed": 0,
    "device": "cpu",
    "alpha": 0.9,
    "beta": 0.1,
    "data": {"digits": {"test_fraction": 0.3}},
    "direct": {
        "d1": {"dataset": "digits", "model": "resnet8", "width": 0.5, "T": 2, "epochs": 1},
        "d2": {"dataset": "digits", "model": "resnet8", "width": 0.5, "T": 2, "epochs": 1},
    },
    "sweep": {"alphas": [0.5, 0.9, 0.99, 0.999]},
    "tables": {"alphas": [0.99, 0.999], "timesteps": [1]},
    "seenn2": {"runs": ["d1"], "betas": [0.5], "epochs": 1, "policy_width": 0.25},
}

runner = CliRunner()


def _one_line_error(result, needle: str) -> None:
    assert result.exit_code == 2, result.output
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1 and needle in lines[0], result.output


@pytest.fixture(scope="module")
def finetuned(tmp_path_factory) -> Path:
    """Tiny params; digits prepared, d1 trained one epoch and finetuned with SEENN-II at beta 0.5."""
    folder = tmp_path_factory.mktemp("seenn2")
    p = str(folder / "params.yaml")
    (folder / "params.yaml").write_text(yaml.safe_dump(TINY))
    steps = [
        ["data", "digits", "--out", str(folder / "data/digits"), "--params", p],
        [
            "train-snn",
            "d1",
            "--data",
            str(folder / "data/digits"),
            "--out",
            str(folder / "runs/d1"),
            "--params",
            p,
        ],
        [
            "finetune",
            "d1",
            "--base",
            str(folder / "runs/d1"),
            "--out",
            str(folder / "runs/d1-seenn2"),
            "--beta",
            "0.5",
            "--params",
            p,
        ],
    ]
    for step in steps:
        result = runner.invoke(app, step)
        assert result.exit_code == 0, f"{step[0]}: {result.output}"
    return folder


def test_finetune_writes_policy_and_operating_point(finetuned):
    """policy.npz, seenn2.csv and seenn2.json agree with each other and recompute from the saved logits."""
    out = finetuned / "runs/d1-seenn2"
    for f in ("model.pt", "policy.pt", "timestep_logits.npz", "provenance.json"):
        assert (out / f).is_file(), f
    with np.load(out / "policy.npz") as z:
        choice, probs, cand = z["choice"], z["probs"], z["candidates"]
    with np.load(out / "timestep_logits.npz") as z:
        logits, labels = z["logits"], z["labels"]
    assert logits.shape == (2, 540, 10)
    assert cand.tolist() == [1, 2]
    assert choice.shape == (540,) and set(choice.tolist()) <= {1, 2}
    assert probs.shape == (540, 2) and np.allclose(probs.sum(1), 1.0, atol=1e-5)
    assert np.array_equal(choice, cand[probs.argmax(1)])

    row = pd.read_csv(out / "seenn2.csv")
    assert list(row.columns) == POINT_COLUMNS and len(row) == 1
    assert row.accuracy_low[0] <= row.accuracy[0] <= row.accuracy_high[0] and row.n[0] == 540
    with np.load(out / "decisions.npz") as z:  # the per-input decisions, for paired tests in the reports
        assert z["exit_step"].tolist() == [choice.tolist()] and z["policy"].tolist() == ["seenn2"]
    assert row.policy[0] == "seenn2" and row.param[0] == 0.5
    decision = chosen_exit(logits, choice)
    assert row.accuracy[0] == pytest.approx(decision.accuracy(labels), abs=1e-5)
    assert row.avg_timesteps[0] == pytest.approx(decision.avg_timesteps(), abs=1e-5)

    record = json.loads((out / "seenn2.json").read_text())
    assert record["policy_macs"] > 0 and record["snn_macs_per_timestep"] > 0
    assert record["beta"] == 0.5 and record["candidates"] == [1, 2] and record["T"] == 2
    assert record["base_run"] == "d1" and record["variant"] == "joint"


def test_finetune_refuses_negative_beta(finetuned):
    """--beta -1 exits 2 with one line and writes nothing into a fresh out folder."""
    out = finetuned / "runs/fresh"
    result = runner.invoke(
        app,
        [
            "finetune",
            "d1",
            "--base",
            str(finetuned / "runs/d1"),
            "--out",
            str(out),
            "--beta",
            "-1",
            "--params",
            str(finetuned / "params.yaml"),
        ],
    )
    _one_line_error(result, "--beta = -1")
    assert not out.exists() or not any(out.iterdir())


def test_finetune_refuses_run_outside_seenn2_runs(finetuned):
    """A direct run that seenn2.runs does not list exits 2 with one line."""
    out = finetuned / "runs/d2-seenn2"
    result = runner.invoke(
        app,
        [
            "finetune",
            "d2",
            "--base",
            str(finetuned / "runs/d1"),
            "--out",
            str(out),
            "--params",
            str(finetuned / "params.yaml"),
        ],
    )
    _one_line_error(result, "run 'd2' is not in `seenn2.runs`")
    assert not out.exists()


def test_finetune_refuses_missing_base(finetuned, tmp_path):
    """A base folder without model.pt exits 2 with one line naming the missing file."""
    result = runner.invoke(
        app,
        [
            "finetune",
            "d1",
            "--base",
            str(tmp_path / "nothing"),
            "--out",
            str(tmp_path / "out"),
            "--params",
            str(finetuned / "params.yaml"),
        ],
    )
    _one_line_error(result, "model.pt is missing")
    assert not (tmp_path / "out").exists()
