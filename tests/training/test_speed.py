"""Tests for the training speed switches: fused LIF loop, fp32 membranes under bf16 autocast,
channels-last through the network, device-held feeds and their shards, and `fit` on the fast path."""

import pytest
import torch
from torch import nn

from pipeline.data.augment import AugmentSpec
from pipeline.core.config import SpeedParams
from pipeline.data.feed import InMemoryFeed, Shard
from pipeline.snn.fused_lif import lif_backward, lif_forward
from pipeline.snn.models import build_model
from pipeline.snn.networks import lif_factory
from pipeline.snn.neurons import LIF
from pipeline.training.speed import Speed, resolve_speed
from pipeline.snn.surrogate import SURROGATES
from pipeline.training.context import Execution, TrainingContext
from pipeline.training.loop import TrainConfig, fit, supervised_task


def _lif_pair(name: str, tau: float = 0.5) -> tuple[LIF, LIF]:
    spike_fn = SURROGATES.get(name)()
    reference, fused = LIF(spike_fn, tau=tau), LIF(spike_fn, tau=tau)
    fused.fused = True
    return reference, fused


@pytest.mark.parametrize("name", ["triangle", "dspike", "sigmoid"])
def test_fused_lif_equals_the_reference_loop(name):
    """Same spikes, and the hand-written backward gives autograd's gradient (through the hard reset)."""
    torch.manual_seed(0)
    reference, fused = _lif_pair(name, tau=0.7)
    x = (1.5 * torch.randn(5, 6, 3, 4, 4, dtype=torch.float64)).requires_grad_()
    w = torch.randn_like(x)  # a loss that weights every spike differently
    outs, grads = [], []
    for neuron in (reference, fused):
        y = neuron(x)
        (g,) = torch.autograd.grad((y * w).sum(), x)
        outs.append(y)
        grads.append(g)
    assert torch.equal(outs[0], outs[1])
    assert torch.allclose(grads[0], grads[1], rtol=0, atol=1e-12)
    assert grads[0].abs().sum() > 0


def test_fused_backward_by_hand():
    """One neuron, two steps, tau 0.5, V 1, triangle surrogate: the gradient worked out on paper.

    x = (0.8, 0.9): h1 = 0.8 (no spike, v1 = 0.8), h2 = 0.4 + 0.9 = 1.3 (spike). With dL/ds = (1, 1):
    step 2: s'(0.3) = 0.7, dL/dh2 = 1 * 0.7 = 0.7 (dL/dv2 = 0); step 1: dL/dv1 = 0.5 * 0.7 = 0.35,
    s'(-0.2) = 0.8, dL/dh1 = (1 - 0.35 * 0.8) * 0.8 + 0.35 * 1 = 0.576 + 0.35 = 0.926."""
    x = torch.tensor([[0.8], [0.9]], dtype=torch.float64)
    spikes, charged = lif_forward(x, 0.5, 1.0)
    assert spikes.flatten().tolist() == [0.0, 1.0]
    assert torch.allclose(charged.flatten(), torch.tensor([0.8, 1.3], dtype=torch.float64))
    grad = lif_backward(torch.ones_like(x), charged, 0.5, 1.0, SURROGATES.get("triangle")().derivative)
    assert torch.allclose(grad.flatten(), torch.tensor([0.926, 0.7], dtype=torch.float64))


@pytest.mark.parametrize("fused", [False, True])
def test_membrane_stays_fp32_under_bf16_autocast(fused):
    """A bf16 input gives bf16 spikes equal to integrating the same values in fp32."""
    torch.manual_seed(1)
    reference, fast = _lif_pair("triangle")
    fast.fused = fused
    x = torch.randn(6, 4, 8).to(torch.bfloat16)
    y = fast(x)
    assert y.dtype == torch.bfloat16
    assert torch.equal(y.float(), reference(x.float()))


def test_channels_last_reaches_every_convolution():
    """With channels-last and the fused loop, every Conv2d of ResNet-19 receives an NHWC input."""
    model = build_model("resnet19", 10, 3, 16, lif_factory("triangle", 0.5), 0.0625)
    speed = Speed(channels_last=True, fused_neurons=True)
    speed.prepare_model(model)
    seen = []
    for m in model.modules():
        if isinstance(m, nn.Conv2d):
            m.register_forward_pre_hook(
                lambda mod, args: seen.append(args[0].is_contiguous(memory_format=torch.channels_last))
            )
    x = speed.prepare_input(torch.rand(2, 3, 3, 16, 16))  # [T, N, C, H, W]
    model(x).sum().backward()
    assert len(seen) == sum(isinstance(m, nn.Conv2d) for m in model.modules()) and all(seen)


def test_auto_switches_by_device():
    """auto: device data everywhere; bf16, channels-last and the compiled fused loop on CUDA only."""
    assert resolve_speed(SpeedParams(), "cpu") == Speed(data_on_device=True)
    assert resolve_speed(SpeedParams(), "cuda") == Speed(True, True, True, True, True, True)
    assert resolve_speed(SpeedParams(fused_neurons=False, amp=True), "cpu") == Speed(
        amp=True, data_on_device=True
    )


def _batches(feed, seed=3):
    return list(feed.batches(torch.Generator().manual_seed(seed)))


def test_feed_shards_add_up_to_the_global_batch():
    """Two shards of each augmented global batch, concatenated, are the unsharded batch."""
    x, y = torch.randint(0, 255, (23, 3, 8, 8), dtype=torch.uint8), torch.arange(23)
    spec = AugmentSpec(shift=2, flip=True, cutout=3)
    whole = _batches(InMemoryFeed(x, y, 8, spec))
    parts = [_batches(InMemoryFeed(x, y, 8, spec, shard=Shard(r, 2))) for r in range(2)]
    assert len(whole) == 3 and [len(b[1]) for b in parts[1]] == [4, 4, 3]
    for (xb, yb), (x0, y0), (x1, y1) in zip(whole, *parts):
        assert torch.equal(xb, torch.cat([x0, x1])) and torch.equal(yb, torch.cat([y0, y1]))


def test_device_feed_gives_the_cpu_feeds_batches():
    """Holding the data on the device changes where batches are cut, not which ones."""
    x, y = torch.rand(17, 2, 6, 6), torch.arange(17)
    spec = AugmentSpec(shift=1, flip=True, roll=1)
    device = "cuda" if torch.cuda.is_available() else "cpu"
    for (a, ya), (b, yb) in zip(
        _batches(InMemoryFeed(x, y, 5, spec)), _batches(InMemoryFeed(x, y, 5, spec, device, True))
    ):
        assert torch.equal(a, b.cpu()) and torch.equal(ya, yb.cpu())


def test_fit_fast_path_matches_reference_path_on_cpu():
    """fit() with the fused loop and device-held data trains to the reference path's weights."""
    x, y = torch.rand(40, 1, 8, 8), torch.randint(0, 10, (40,))
    weights = []
    for speed in (Speed(), Speed(fused_neurons=True, data_on_device=True)):
        torch.manual_seed(0)
        model = build_model("resnet20", 10, 1, 8, lif_factory("triangle", 0.5), 0.25)
        feed = InMemoryFeed(x, y, 16, AugmentSpec(shift=1), on_device=speed.data_on_device)
        test = InMemoryFeed(x, y, 64)
        loss = lambda out, labels: nn.functional.cross_entropy(out.mean(0), labels)  # noqa: E731
        task = supervised_task(model, loss, lambda b: b[None].expand(3, *b.shape), test, speed=speed)
        fit(
            task,
            feed,
            TrainConfig(epochs=2, batch_size=16),
            TrainingContext(execution=Execution(speed=speed)),
        )
        weights.append(torch.cat([p.detach().flatten() for p in model.parameters()]))
    assert torch.allclose(weights[0], weights[1], atol=1e-5)


def test_rcs_recorder_still_sees_every_step_with_fused_switch_on():
    """SNNCutoff's RCS recorder observes every step; a fused neuron then runs the reference loop, so the
    recorder gets all T steps and the outputs are unchanged."""
    from pipeline.training.rcs import NeuronRecorder

    model = build_model("resnet20", 10, 1, 8, lif_factory("triangle", 0.5), 0.25)
    x = torch.rand(3, 2, 1, 8, 8)
    plain = model(x)
    Speed(fused_neurons=True).prepare_model(model)
    with NeuronRecorder(model) as recorder:
        recorded = model(x)
        assert recorder.layers and all(len(r.spikes) == 3 for r in recorder.layers)
    assert torch.equal(plain, recorded)


def test_throughput_benchmark_runs_and_prints_its_summary_line():
    """benchmarks/train_throughput.py on a tiny CPU configuration: every path runs, the last line parses."""
    import re
    import subprocess
    import sys

    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "benchmarks.train_throughput",
            "--width",
            "0.0625",
            "--input-size",
            "8",
            "--batch-size",
            "8",
            "--batches",
            "1",
            "--epochs",
            "1",
            "--device",
            "cpu",
            "--deterministic",
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.strip().splitlines()
    assert re.fullmatch(r"model=resnet19 T=4 baseline_ips=[\d.]+ fast_ips=[\d.]+ speedup=[\d.]+", lines[-1])
    assert any("fast_deterministic" in line for line in lines)


def test_fused_switch_fuses_qcfs_and_trains_the_same_weights():
    """`fused_qcfs` turns every QCFS activation into its fused node; three SGD steps of a QCFS
    FastVGG then end at the reference path's weights up to float rounding."""
    from pipeline.snn.qcfs import QCFS

    weights = []
    for fused in (False, True):
        torch.manual_seed(0)
        model = build_model("fastvgg", 10, 3, 8, lambda: QCFS(4, 4.0), 0.125)
        Speed(fused_qcfs=fused).prepare_model(model)
        assert all(m.fused == fused for m in model.modules() if isinstance(m, QCFS))
        opt = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
        for step in range(3):
            x = torch.rand(1, 4, 3, 8, 8, generator=torch.Generator().manual_seed(step))
            loss = model(x).square().mean()
            opt.zero_grad()
            loss.backward()
            opt.step()
        weights.append(torch.cat([p.detach().flatten() for p in model.parameters()]))
    assert torch.allclose(weights[0], weights[1], atol=1e-5)
