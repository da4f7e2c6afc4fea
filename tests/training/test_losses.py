"""Tests for `pipeline/training/losses.py`: the TET loss against hand-computed values (per-step and
accumulated)."""

import math

import pytest
import torch

from pipeline.training.losses import tet_loss


def _ce(z: list[float], y: int) -> float:
    """Cross-entropy of one score vector with math.exp / math.log."""
    return -math.log(math.exp(z[y]) / sum(math.exp(v) for v in z))


# T = 2, N = 1, C = 2: O_1 = [2, 0], O_2 = [0.5, 1], label 0
OUTPUTS = [[[2.0, 0.0]], [[0.5, 1.0]]]
LABELS = [0]


def _tensor(values) -> torch.Tensor:
    return torch.tensor(values, dtype=torch.float64)


@pytest.mark.parametrize("lam", [0.0, 0.001, 0.5])
def test_tet_per_step_hand_example(lam):
    """per_step: (1 - lam) * mean_t CE(O_t, y) + lam * mean (O - 1)^2 on a T=2, N=1, C=2 example."""
    ce = (_ce([2.0, 0.0], 0) + _ce([0.5, 1.0], 0)) / 2  # (log(1 + e^-2) + log(1 + e^0.5)) / 2
    assert ce == pytest.approx((math.log(1 + math.exp(-2)) + math.log(1 + math.exp(0.5))) / 2)
    mse = ((2 - 1) ** 2 + (0 - 1) ** 2 + (0.5 - 1) ** 2 + (1 - 1) ** 2) / 4  # 0.5625
    expected = (1 - lam) * ce + lam * mse
    got = tet_loss(_tensor(OUTPUTS), torch.tensor(LABELS), lam=lam)
    assert got.item() == pytest.approx(expected, rel=1e-12)
    assert tet_loss(_tensor(OUTPUTS), torch.tensor(LABELS), lam=lam, mode="per_step").item() == got.item()


@pytest.mark.parametrize("lam", [0.0, 0.001, 0.5])
def test_tet_accumulated_hand_example(lam):
    """accumulated (paper eq. 11): the CE at step t uses the running mean f_t = mean_{s<=t} O_s."""
    # f_1 = [2, 0], f_2 = ([2, 0] + [0.5, 1]) / 2 = [1.25, 0.5]
    ce = (_ce([2.0, 0.0], 0) + _ce([1.25, 0.5], 0)) / 2
    mse = 0.5625  # the MSE regulariser stays on the per-step outputs O_t
    expected = (1 - lam) * ce + lam * mse
    got = tet_loss(_tensor(OUTPUTS), torch.tensor(LABELS), lam=lam, mode="accumulated")
    assert got.item() == pytest.approx(expected, rel=1e-12)
    per_step = tet_loss(_tensor(OUTPUTS), torch.tensor(LABELS), lam=lam)
    assert got.item() != pytest.approx(per_step.item())


def test_tet_phi_target():
    """The MSE target is phi: with phi = 0.5, MSE = ((1.5)^2 + 0.5^2 + 0 + 0.5^2) / 4 = 0.6875."""
    ce = (_ce([2.0, 0.0], 0) + _ce([0.5, 1.0], 0)) / 2
    got = tet_loss(_tensor(OUTPUTS), torch.tensor(LABELS), lam=0.5, phi=0.5)
    assert got.item() == pytest.approx(0.5 * ce + 0.5 * 0.6875, rel=1e-12)


def test_tet_two_samples_label_alignment():
    """N = 2 with different labels: every (t, n) pair is scored against sample n's own label."""
    outputs = [[[1.0, 0.0, -1.0], [0.0, 2.0, 0.5]], [[0.3, 0.2, 0.1], [-1.0, 0.0, 3.0]]]  # [T=2, N=2, C=3]
    labels = [2, 1]
    ce_step = (
        _ce([1.0, 0.0, -1.0], 2)
        + _ce([0.0, 2.0, 0.5], 1)
        + _ce([0.3, 0.2, 0.1], 2)
        + _ce([-1.0, 0.0, 3.0], 1)
    ) / 4
    got = tet_loss(_tensor(outputs), torch.tensor(labels), lam=0.0)
    assert got.item() == pytest.approx(ce_step, rel=1e-12)
    # accumulated: f_2 = ([0.65, 0.1, -0.45], [-0.5, 1.0, 1.75])
    ce_acc = (
        _ce([1.0, 0.0, -1.0], 2)
        + _ce([0.0, 2.0, 0.5], 1)
        + _ce([0.65, 0.1, -0.45], 2)
        + _ce([-0.5, 1.0, 1.75], 1)
    ) / 4
    got = tet_loss(_tensor(outputs), torch.tensor(labels), lam=0.0, mode="accumulated")
    assert got.item() == pytest.approx(ce_acc, rel=1e-12)


def test_tet_gradient_is_finite_and_reaches_every_step():
    """The loss is differentiable w.r.t. every timestep's output (both modes)."""
    torch.manual_seed(0)
    for mode in ("per_step", "accumulated"):
        o = torch.randn(3, 4, 5, requires_grad=True)
        tet_loss(o, torch.randint(0, 5, (4,)), mode=mode).backward()
        assert torch.isfinite(o.grad).all()
        assert (o.grad.abs().sum(dim=(1, 2)) > 0).all()


def test_tet_bad_mode_raises():
    """An unknown mode raises ValueError."""
    with pytest.raises(ValueError):
        tet_loss(_tensor(OUTPUTS), torch.tensor(LABELS), mode="mean")
