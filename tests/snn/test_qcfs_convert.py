"""Tests for `pipeline/snn/qcfs.py` and `pipeline/snn/convert.py`: the QCFS activation on hand values, its
straight-through gradients, the QCFS -> IF replacement, and that the converted SNN's time-averaged
output approaches the ANN's as T grows."""

import copy

import pytest
import torch
from torch import nn

from pipeline.snn.convert import convert_qcfs_to_if
from pipeline.snn.models import build_model
from pipeline.snn.networks import lif_factory
from pipeline.snn.neurons import IF
from pipeline.snn.qcfs import QCFS


@pytest.fixture(autouse=True, scope="module")
def _single_thread():
    """Run these tiny models on one intra-op thread (OpenMP spin-waits make multi-threading far slower on a
    busy 2-core machine); restore the previous setting afterwards."""
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)


# -- QCFS activation ----------------------------------------------------------------------------------
def _qcfs(levels: int, lam: float, fused: bool) -> QCFS:
    q = QCFS(levels=levels, lambda_init=lam)
    q.fused = fused
    return q


@pytest.mark.parametrize("fused", [False, True])
def test_qcfs_forward_hand_values(fused):
    """L = 4, lambda = 8: y = 8 * clamp(floor(x * 4 / 8 + 0.5) / 4, 0, 1) on hand-picked x (both paths)."""
    q = _qcfs(4, 8.0, fused)
    x = torch.tensor([-3.0, -1.0, 0.0, 0.9, 1.0, 3.0, 5.0, 6.9, 7.0, 10.0])
    # x=-3: floor(-1.0)=-1 -> clamp 0 -> 0     x=-1: floor(0.0)=0 -> 0      x=0: floor(0.5)=0 -> 0
    # x=0.9: floor(0.95)=0 -> 0                x=1: floor(1.0)=1 -> 8/4=2   x=3: floor(2.0)=2 -> 8*2/4=4
    # x=5: floor(3.0)=3 -> 6                   x=6.9: floor(3.95)=3 -> 6    x=7: floor(4.0)=4 -> 8
    # x=10: floor(5.5)=5 -> 5/4 clamps to 1 -> 8
    assert q(x).tolist() == [0.0, 0.0, 0.0, 0.0, 2.0, 4.0, 6.0, 6.0, 8.0, 8.0]


def test_qcfs_shape_and_levels_validation():
    """QCFS keeps any shape (including [T=1, N, ...]) and rejects levels < 1."""
    q = QCFS(levels=8, lambda_init=2.0)
    x = torch.randn(1, 3, 4, 5, 5)
    y = q(x)
    assert y.shape == x.shape
    assert torch.all((y >= 0) & (y <= 2.0))
    # output sits on the L + 1 levels lambda * k / L
    k = y * 8 / 2.0
    assert torch.equal(k, k.round())
    with pytest.raises(ValueError):
        QCFS(levels=0)


@pytest.mark.parametrize("fused", [False, True])
def test_qcfs_straight_through_gradients(fused):
    """dy/dx = 1 inside the clip range, 0 outside; dy/dlambda = q - x/lambda inside, 1 above, 0 below."""
    q = _qcfs(4, 8.0, fused)
    x = torch.tensor([-3.0, 3.0, 5.0, 10.0], requires_grad=True)
    y = q(x)
    gx, glam = torch.autograd.grad(y.sum(), [x, q.lam], retain_graph=True)
    assert gx.tolist() == [0.0, 1.0, 1.0, 0.0]
    # per element, y = lam * clamp(floor(x L / lam + 1/2) / L, 0, 1) with floor' := 1:
    #   x = -3  clamped below -> 0;   x = 10 clamped above (y = lam) -> 1
    #   x = 3:  q = 0.5, dy/dlam = q + lam * (1/L) * (-x L / lam^2) = 0.5 - 3/8 = 0.125
    #   x = 5:  q = 0.75, 0.75 - 5/8 = 0.125
    per_elem = [torch.autograd.grad(y[i], q.lam, retain_graph=True)[0].item() for i in range(4)]
    assert per_elem == pytest.approx([0.0, 0.125, 0.125, 1.0])
    assert glam.item() == pytest.approx(1.25)
    assert q.lam.requires_grad and isinstance(q.lam, nn.Parameter)


@pytest.mark.parametrize("fused", [False, True])
def test_qcfs_gradient_band_is_levels_1_to_L_minus_1(fused):
    """torch.clamp passes the gradient only strictly between its bounds, so the input gradient is 1 exactly
    where the level floor(x L / lambda + 1/2) is 1..L-1. L = 4, lambda = 8 (levels by hand):
    x = 0.9 -> floor(0.95) = 0 (out); 1.0 -> 1 (in); 6.9 -> floor(3.95) = 3 (in); 7.0 -> 4 (out).
    dL/dlambda of sum(y): 1.0 -> 0.25 - 1/8 = 0.125; 6.9 -> 0.75 - 6.9/8 = -0.1125; 7.0 -> 1; total 1.0125."""
    q = _qcfs(4, 8.0, fused)
    x = torch.tensor([0.9, 1.0, 6.9, 7.0], requires_grad=True)
    gx, glam = torch.autograd.grad(q(x).sum(), [x, q.lam])
    assert gx.tolist() == [0.0, 1.0, 1.0, 0.0]
    assert glam.item() == pytest.approx(1.0125)


@pytest.mark.parametrize("layout", ["contiguous 5-d", "channels-last input, contiguous gradient"])
def test_fused_qcfs_matches_reference_path(layout):
    """The fused node gives the reference path's output and input gradient bit for bit, and its lambda
    gradient to float rounding, on a map with every level and both clips present: a [T, N, C, H, W]
    one, and a channels-last [N, C, H, W] one whose incoming gradient has the other layout."""
    torch.manual_seed(0)
    x = torch.randn(1, 16, 8, 5, 5) * 5
    g = torch.randn_like(x)
    if layout.startswith("channels-last"):
        x, g = x[0].contiguous(memory_format=torch.channels_last), g[0].contiguous()
    grads = []
    for fused in (False, True):
        q = _qcfs(4, 4.0, fused)
        xi = x.clone().requires_grad_()
        y = q(xi)
        grads.append((y.detach(), *torch.autograd.grad((y * g).sum(), [xi, q.lam])))
    (y0, gx0, gl0), (y1, gx1, gl1) = grads
    assert torch.equal(y0, y1) and torch.equal(gx0, gx1)
    assert gl1.item() == pytest.approx(gl0.item(), rel=1e-5)


# -- conversion --------------------------------------------------------------------------------------
def _qcfs_resnet(levels: int, lam: float, seed: int = 0) -> nn.Module:
    """ResNet-20 (width 0.25, 1x8x8 input, 10 classes) with QCFS activations and trained-like BN stats.

    The running BN statistics are the exact (cumulative) train-mode batch statistics of 3 batches of
    standard-normal images, so each BN output is roughly N(0, 1) in eval mode too and the QCFS inputs
    cover the clip range [0, lambda] instead of sitting at zero.
    """
    torch.manual_seed(seed)
    ann = build_model("resnet20", 10, 1, 8, lambda: QCFS(levels, lam), width=0.25)
    for m in ann.modules():
        if isinstance(m, nn.BatchNorm2d):
            m.momentum = None  # cumulative average
    ann.train()
    with torch.no_grad():
        for _ in range(3):
            ann(torch.randn(1, 128, 1, 8, 8))
    return ann.eval()


def _snn_running_mean(snn: nn.Module, x: torch.Tensor, T: int) -> torch.Tensor:
    """Converted SNN fed the analog image at every step; returns the running mean output [T, N, K]."""
    with torch.no_grad():
        out = snn(x[None].expand(T, *x.shape))
    return out.cumsum(0) / torch.arange(1, T + 1, dtype=out.dtype)[:, None, None]


def test_conversion_replaces_every_qcfs_and_leaves_ann_untouched():
    """Each QCFS becomes an IF (threshold = its lambda) in place; the ANN keeps its QCFS and weights."""
    torch.manual_seed(0)
    ann = build_model("resnet8", 10, 1, 8, lambda: QCFS(4, 8.0), width=0.25)
    qcfs_names = [n for n, m in ann.named_modules() if isinstance(m, QCFS)]
    for i, n in enumerate(qcfs_names):  # distinct lambdas, so a mix-up would show
        ann.get_submodule(n).lam.data.fill_(1.0 + 0.25 * i)
    before = copy.deepcopy(ann.state_dict())
    snn = convert_qcfs_to_if(ann, initial_fraction=0.5)

    assert len(qcfs_names) == 7  # stem + 3 blocks x 2
    assert not any(isinstance(m, QCFS) for m in snn.modules())
    assert [n for n, m in snn.named_modules() if isinstance(m, IF)] == qcfs_names
    for n in qcfs_names:
        neuron, q = snn.get_submodule(n), ann.get_submodule(n)
        assert neuron.threshold == pytest.approx(q.lam.item())
        assert neuron.initial_fraction == 0.5
    # the ANN is unchanged: same modules, same tensors, no shared parameters with the SNN
    assert [n for n, m in ann.named_modules() if isinstance(m, QCFS)] == qcfs_names
    after = ann.state_dict()
    assert before.keys() == after.keys() and all(torch.equal(before[k], after[k]) for k in before)
    snn_state = snn.state_dict()
    for k, v in snn_state.items():
        assert torch.equal(v, after[k])
        assert v.data_ptr() != after[k].data_ptr()
    assert set(after) - set(snn_state) == {f"{n}.lam" for n in qcfs_names}
    assert convert_qcfs_to_if(ann, initial_fraction=0.0).get_submodule(qcfs_names[0]).initial_fraction == 0.0


def test_conversion_without_qcfs_raises():
    """convert_qcfs_to_if on a net without QCFS (plain ReLU net or LIF SNN) raises ValueError."""
    with pytest.raises(ValueError):
        convert_qcfs_to_if(nn.Sequential(nn.Linear(3, 3), nn.ReLU()))
    with pytest.raises(ValueError):
        convert_qcfs_to_if(build_model("resnet8", 10, 1, 8, lif_factory("triangle", 0.5), width=0.25))


def test_single_layer_if_equals_qcfs_at_T_equals_L():
    """One QCFS -> IF layer with constant input: the mean output over T = L steps equals QCFS(x) exactly."""
    torch.manual_seed(0)
    L, lam = 4, 1.5
    q = QCFS(L, lam).double()
    neuron = convert_qcfs_to_if(nn.Sequential(q))[0]
    x = torch.rand(1000, dtype=torch.float64) * 3 * lam - lam  # covers below 0, [0, lam] and above lam
    with torch.no_grad():
        assert torch.allclose(neuron(x.expand(L, -1)).mean(0), q(x), atol=1e-12)
        # at T = 4 L the IF rate is the finer quantisation floor(T x / lam + 1/2) / T, not the QCFS value
        fine = neuron(x.expand(4 * L, -1)).mean(0)
        expected = lam * torch.clamp(torch.floor(x * 4 * L / lam + 0.5) / (4 * L), 0, 1)
        assert torch.allclose(fine, expected, atol=1e-12)


def test_converted_snn_approaches_ann_as_T_grows():
    """Converted ResNet-20 (QCFS L = 64, lambda = 2): the SNN's mean output over T steps approaches the ANN's.

    Bounds (measured on this seed: relative MAE 0.45 at T = 4, 0.056 at T = 256; argmax agreement 100 %):
    mean |SNN_T - ANN| / mean |ANN| < 0.15 at T = 256, and below half its T = 4 value; the T = 256
    predictions agree with the ANN on >= 90 % of a random labelled batch and the accuracies differ by
    at most 5 points. A fine quantisation (L = 64) is used because the IF rate at large T converges to
    the clipped ReLU, not to the L = 4 staircase (see the next test).
    """
    ann = _qcfs_resnet(levels=64, lam=2.0)
    snn = convert_qcfs_to_if(ann).eval()
    torch.manual_seed(1)
    x = torch.randn(64, 1, 8, 8)
    labels = torch.randint(0, 10, (64,))
    with torch.no_grad():
        a = ann(x[None])[0]
    scale = a.abs().mean()
    assert scale > 0.1  # a live network, not one that outputs the FC bias only
    running = _snn_running_mean(snn, x, 256)
    err = {T: ((running[T - 1] - a).abs().mean() / scale).item() for T in (4, 16, 64, 256)}
    assert err[256] < 0.15
    assert err[256] < 0.5 * err[4]
    assert err[64] < err[4]
    agree = (running[-1].argmax(1) == a.argmax(1)).float().mean().item()
    assert agree >= 0.9
    acc_ann = (a.argmax(1) == labels).float().mean().item()
    acc_snn = (running[-1].argmax(1) == labels).float().mean().item()
    assert abs(acc_ann - acc_snn) <= 0.05


def test_converted_snn_with_L4_converges_to_clipped_relu():
    """With QCFS L = 4 (the paper's CIFAR setting) the large-T SNN approaches the clip(x, 0, lambda) net.

    Bounds (measured: relative MAE to the clipped-ReLU net 0.43 at T = 4, 0.031 at T = 256; to the L = 4
    QCFS ANN itself the error stays near 0.37 -- the quantisation gap, not a conversion bug):
    relative MAE to the clipped-ReLU net < 0.1 at T = 256 and below a quarter of its T = 4 value.
    """
    ann = _qcfs_resnet(levels=4, lam=2.0)
    snn = convert_qcfs_to_if(ann).eval()
    relu = copy.deepcopy(ann)
    for m in relu.modules():
        if isinstance(m, QCFS):
            m.levels = 10**7  # a staircase this fine is clip(x, 0, lambda) to float precision
    torch.manual_seed(1)
    x = torch.randn(64, 1, 8, 8)
    with torch.no_grad():
        r = relu(x[None])[0]
    running = _snn_running_mean(snn, x, 256)
    err = {T: ((running[T - 1] - r).abs().mean() / r.abs().mean()).item() for T in (4, 256)}
    assert err[256] < 0.1
    assert err[256] < 0.25 * err[4]
    assert (running[-1].argmax(1) == r.argmax(1)).float().mean().item() >= 0.9
