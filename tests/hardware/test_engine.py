"""Tests for `pipeline/hardware/engine.py` and `pipeline/hardware/rules.py`: the batched early-exit engine
equals the offline exit rules of `pipeline/exits/policies.py` on the full-T logits of the same model and
inputs, exactly,
and an input's result never depends on the inputs that share (or leave) its batch.

The nets run in float64: a float32 logit can move by an ulp when a kernel picks a different algorithm for
a different batch size (a property of the BLAS / oneDNN kernels, not of the engine), and in float64 such a
difference cannot flip a spike or an exit, so exact equality is a robust check here.
"""

import numpy as np
import pytest
import torch
from torch import nn

from pipeline.snn.convert import convert_qcfs_to_if
from pipeline.data.prepared import DatasetInfo, to_sequence
from pipeline.hardware.engine import infer, latency
from pipeline.hardware.rules import FixedT, GivenSteps, PolicyNet, Seenn1
from pipeline.exits.policies import chosen_exit, fixed_exit, seenn1_exit, softmax_confidence
from pipeline.seenn2.policy import build_policy, policy_input
from pipeline.exits.metrics import accumulate
from pipeline.snn.models import build_model
from pipeline.snn.networks import lif_factory, spiking_neurons
from pipeline.snn.qcfs import QCFS
from pipeline.seenn2.reward import choose_timesteps

T = 4
N = 40
STATIC = DatasetInfo("digits", "digits", "static", 10, 1, 8)
EVENT = DatasetInfo("digits_dvs", "digits-dvs (simulated)", "event", 10, 2, 8, frames=T, simulated=True)


@torch.no_grad()
def _lively(net: nn.Module, seed: int) -> nn.Module:
    """Random BatchNorm statistics and affine terms and a larger classifier, so that a random net
    spikes in every layer and its confidences spread over many values (as a trained net's do)."""
    generator = torch.Generator().manual_seed(seed)
    for m in net.modules():
        if isinstance(m, nn.BatchNorm2d):
            c = m.num_features
            m.weight.copy_(1.0 + 2.0 * torch.rand(c, generator=generator))
            m.bias.copy_(torch.rand(c, generator=generator) - 0.3)
            m.running_mean.copy_(0.1 * torch.randn(c, generator=generator))
            m.running_var.copy_(0.5 + torch.rand(c, generator=generator))
        if isinstance(m, nn.Linear):
            m.weight.mul_(6.0)
    return net.double().eval()


def _lif_net() -> nn.Module:
    torch.manual_seed(0)
    return _lively(build_model("resnet8", 10, 1, 8, lif_factory("triangle", 0.5), width=0.25), 0)


def _if_net() -> nn.Module:
    """A converted net: QCFS ANN (random weights, lambda 1.5) -> IF neurons (threshold 1.5, u0 = 0.75)."""
    torch.manual_seed(1)
    ann = _lively(build_model("resnet8", 10, 1, 8, lambda: QCFS(4, 1.5), width=0.25), 1)
    return convert_qcfs_to_if(ann)


def _event_net() -> nn.Module:
    torch.manual_seed(2)
    return _lively(build_model("resnet8", 10, 2, 8, lif_factory("triangle", 0.5), width=0.25), 2)


def _inputs(info: DatasetInfo, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    if info.kind == "static":
        return (2.0 * rng.random((N, 1, 8, 8))).astype(np.float64)
    return rng.poisson(0.6, size=(N, T, 2, 8, 8)).astype(np.float64)


CASES = {"lif": (_lif_net, STATIC), "if": (_if_net, STATIC), "event": (_event_net, EVENT)}


@pytest.fixture(scope="module", params=list(CASES))
def case(request):
    """(name, model, info, inputs, offline per-step logits `[T, N, K]`)."""
    build, info = CASES[request.param]
    model, x = build(), _inputs(info)
    with torch.no_grad():
        logits = model(to_sequence(torch.from_numpy(x), info, T)).numpy()
    return request.param, model, info, x, logits


def _alphas(logits: np.ndarray, mode: str, temperature: float) -> list[float]:
    """Thresholds between the offline confidences, so that inputs exit at several different steps."""
    conf = softmax_confidence(accumulate(logits, mode), temperature)  # [T, N]
    return [float(np.quantile(conf, q)) for q in (0.25, 0.6, 0.9)]


def _same(engine, offline) -> None:
    np.testing.assert_array_equal(engine.decision.exit_step, offline.exit_step)
    np.testing.assert_array_equal(engine.decision.prediction, offline.prediction)


@pytest.mark.parametrize("mode,temperature", [("sum", 1.0), ("mean", 1.0), ("sum", 8.0)])
@pytest.mark.parametrize(
    "batch_size,refill,compact", [(1, True, 0.0), (6, True, 0.0), (6, False, 0.5), (64, True, 1.0)]
)
def test_seenn1_equals_offline_rule(case, mode, temperature, batch_size, refill, compact):
    name, model, info, x, logits = case
    spread = set()
    for alpha in _alphas(logits, mode, temperature):
        offline = seenn1_exit(logits, alpha, mode, temperature)
        result = infer(model, x, info, T, Seenn1(alpha, mode, temperature), batch_size, compact, refill)
        _same(result, offline)
        rows = np.arange(N)
        expected = accumulate(logits, mode)[offline.exit_step - 1, rows]  # [N, K] output at each exit
        np.testing.assert_allclose(result.scores, expected, rtol=1e-12)
        spread |= set(offline.exit_step.tolist())
    assert len(spread) >= 3, f"{name}: the alphas should make inputs exit at several steps"


@pytest.mark.parametrize("batch_size", [1, 16])
def test_fixed_t_equals_offline_rule(case, batch_size):
    _, model, info, x, logits = case
    for t in range(1, T + 1):
        result = infer(model, x, info, T, FixedT(t), batch_size)
        _same(result, fixed_exit(logits, t))
        assert result.sample_steps == t * N


@pytest.mark.parametrize("batch_size", [1, 7, 64])
def test_given_steps_equal_chosen_exit(case, batch_size):
    _, model, info, x, logits = case
    steps = np.random.default_rng(3).integers(1, T + 1, size=N)
    result = infer(model, x, info, T, GivenSteps(steps), batch_size)
    _same(result, chosen_exit(logits, steps))
    assert result.sample_steps == steps.sum()  # nothing runs past its exit


def test_policy_network_choices_equal_offline(case):
    _, model, info, x, logits = case
    torch.manual_seed(4)
    policy = build_policy(T, info, width=0.25).double().eval()
    candidates = (1, 2, 3, 4)
    with torch.no_grad():
        image = policy_input(torch.from_numpy(x), info).double()  # event data: the mean frame
        chosen = choose_timesteps(policy(image)[0], torch.tensor(candidates))
    result = infer(model, x, info, T, PolicyNet(policy, candidates, info), batch_size=8)
    _same(result, chosen_exit(logits, chosen.numpy()))


@pytest.mark.parametrize("refill", [True, False])
def test_exits_at_every_step_never_touch_the_others(case, refill):
    """Inputs leave the batch at every step (planned and SEENN-I); each one's accumulated output equals
    that of the same input run alone, so no membrane of a finished input leaks into the others."""
    _, model, info, x, logits = case
    steps = np.arange(N) % T + 1  # [1, 2, 3, 4, 1, 2, ...]: exits at every step
    together = infer(model, x, info, T, GivenSteps(steps), batch_size=N)
    alpha = _alphas(logits, "sum", 1.0)[1]
    dynamic = infer(model, x, info, T, Seenn1(alpha), batch_size=8, refill=refill)
    assert len(set(dynamic.decision.exit_step.tolist())) >= 3
    for i in range(N):
        alone = infer(model, x[i : i + 1], info, T, FixedT(int(steps[i])), batch_size=1)
        np.testing.assert_allclose(together.scores[i], alone.scores[0], rtol=1e-12, atol=1e-12)
        assert together.decision.prediction[i] == alone.decision.prediction[0]
        alone = infer(model, x[i : i + 1], info, T, Seenn1(alpha), batch_size=1)
        assert dynamic.decision.exit_step[i] == alone.decision.exit_step[0]
        np.testing.assert_allclose(dynamic.scores[i], alone.scores[0], rtol=1e-12, atol=1e-12)


def test_refill_computes_only_the_steps_run():
    model, x = _lif_net(), _inputs(STATIC)
    with torch.no_grad():
        logits = model(to_sequence(torch.from_numpy(x), STATIC, T)).numpy()
    alpha = _alphas(logits, "sum", 1.0)[1]
    eager = infer(model, x, STATIC, T, Seenn1(alpha), batch_size=8, compact_min_fraction=0.0)
    assert eager.sample_steps == eager.decision.exit_step.sum() and eager.efficiency == 1.0
    lazy = infer(model, x, STATIC, T, Seenn1(alpha), batch_size=8, compact_min_fraction=1.0, refill=False)
    assert lazy.sample_steps > lazy.decision.exit_step.sum()  # finished inputs stayed in the batch
    _same(lazy, eager.decision)


def test_engine_restores_the_model():
    model = _lif_net().train()
    infer(model, _inputs(STATIC)[:5], STATIC, T, Seenn1(0.5), batch_size=2)
    assert model.training
    assert all(not n.stateful and n.v is None for n in spiking_neurons(model))


def test_engine_rejects_bad_arguments():
    model, x = _lif_net(), _inputs(STATIC)[:4]
    with pytest.raises(ValueError):
        infer(model, x, STATIC, T, GivenSteps(np.array([1, 2, 5, 1])))
    with pytest.raises(ValueError):
        infer(model, x, STATIC, T, GivenSteps(np.array([1, 2, 3])))  # one step per input
    with pytest.raises(ValueError):
        infer(model, x, STATIC, T, FixedT(0))
    with pytest.raises(ValueError):
        Seenn1(1.0)
    with pytest.raises(ValueError):
        infer(model, x, STATIC, T, FixedT(2), batch_size=0)


def test_latency_reports_the_median_pass():
    model, x = _lif_net(), _inputs(STATIC)[:8]
    timed = latency(model, x, STATIC, T, FixedT(2), batch_size=4, warmup=1, repeats=3)
    assert len(timed.times) == 3 and timed.n_samples == 8
    median = sorted(timed.times)[1]
    assert timed.seconds_per_sample == pytest.approx(median / 8)
    assert timed.throughput == pytest.approx(8 / median)
    assert (timed.result.decision.exit_step == 2).all()


@pytest.mark.parametrize("batch_size,refill", [(1, True), (6, False), (64, True)])
def test_snncutoff_rules_equal_offline(case, batch_size, refill):
    """SNNCutoff's Top-K (one beta and calibrated per-step betas) and the entropy exit in the engine
    give exactly the offline pipeline.exits.cutoff decisions."""
    from pipeline.exits.cutoff import entropy_exit, entropy_score, topk_exit, topk_gap
    from pipeline.hardware.rules import Entropy, TopK

    name, model, info, x, logits = case
    gaps = topk_gap(logits)
    for beta in [float(np.quantile(gaps, q)) for q in (0.3, 0.7)]:
        _same(infer(model, x, info, T, TopK(beta), batch_size, 0.0, refill), topk_exit(logits, beta))
    per_step = tuple(float(np.quantile(gaps[t], 0.5)) for t in range(T))
    _same(infer(model, x, info, T, TopK(per_step), batch_size, 0.0, refill), topk_exit(logits, per_step))
    scores = entropy_score(accumulate(logits, "sum"), 8.0)
    for threshold in [float(np.quantile(scores, q)) for q in (0.3, 0.7)]:
        offline = entropy_exit(logits, threshold, "sum", 8.0)
        _same(infer(model, x, info, T, Entropy(threshold, "sum", 8.0), batch_size, 0.0, refill), offline)
