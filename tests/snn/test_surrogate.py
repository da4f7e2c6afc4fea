"""Tests for `pipeline/snn/surrogate.py`: Heaviside forward, backward = derivative of the named smooth
form."""

import math

import pytest
import torch

from pipeline.snn.surrogate import SURROGATES, smooth_form

# (name, kwargs): defaults and non-default parameters for every registered surrogate
CASES = [
    ("triangle", {}),
    ("triangle", {"gamma": 0.5}),
    ("triangle", {"gamma": 2.0}),
    ("dspike", {}),
    ("dspike", {"b": 2.0}),
    ("dspike", {"b": 5.0, "window": 1.0}),
    ("dspike_unit", {}),
    ("sigmoid", {}),
    ("sigmoid", {"k": 2.0}),
]


def _grid() -> torch.Tensor:
    """x = -3.5 .. 3.5 in steps of 0.01 (float64), plus the exact points 0 and the window edges."""
    extra = torch.tensor([0.0, 1.0, -1.0, 3.0], dtype=torch.float64)
    return torch.cat([torch.linspace(-3.5, 3.5, 701, dtype=torch.float64), extra])


def _surrogate_grad(name: str, kwargs: dict, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(forward value, elementwise gradient) of the registered surrogate at x."""
    x = x.clone().requires_grad_(True)
    y = SURROGATES.get(name)(**kwargs)(x)
    (g,) = torch.autograd.grad(y.sum(), x)
    return y.detach(), g


def _smooth_grad(name: str, kwargs: dict, x: torch.Tensor) -> torch.Tensor:
    """Autograd derivative of the smooth form (the window cuts it outside |x| <= window, and the released
    Dspike's normaliser 2 tanh(b window) uses it)."""
    params = {k: v for k, v in kwargs.items() if k != "window" or name == "dspike"}
    x = x.clone().requires_grad_(True)
    (g,) = torch.autograd.grad(smooth_form(name, x, **params).sum(), x)
    return g


def test_registry_lists_the_three_surrogates():
    """The surrogate registry holds exactly triangle, dspike and sigmoid."""
    assert SURROGATES.names() == ["dspike", "dspike_unit", "sigmoid", "triangle"]


@pytest.mark.parametrize("name,kwargs", CASES, ids=[f"{n}-{k}" for n, k in CASES])
def test_forward_is_heaviside(name, kwargs):
    """Forward pass is the step function H(x) = 1 for x >= 0, else 0 (dtype preserved)."""
    x = _grid()
    y, _ = _surrogate_grad(name, kwargs, x)
    assert y.dtype == torch.float64
    assert torch.equal(y, (x >= 0).to(torch.float64))
    assert SURROGATES.get(name)(**kwargs)(torch.tensor([0.0])).item() == 1.0


@pytest.mark.parametrize("name,kwargs", CASES, ids=[f"{n}-{k}" for n, k in CASES])
def test_backward_matches_autograd_of_smooth_form(name, kwargs):
    """Backward equals autograd of smooth_form(name, x, ...) on the grid (dspike: inside its window)."""
    x = _grid()
    _, g = _surrogate_grad(name, kwargs, x)
    expected = _smooth_grad(name, kwargs, x)
    if name.startswith("dspike"):
        window = kwargs.get("window", 3.0)
        expected = expected * (x.abs() <= window).to(x.dtype)
    torch.testing.assert_close(g, expected, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("name,kwargs", CASES, ids=[f"{n}-{k}" for n, k in CASES])
def test_backward_scales_upstream_gradient(name, kwargs):
    """The surrogate multiplies the incoming gradient elementwise (chain rule)."""
    x = _grid()
    w = torch.linspace(-2.0, 2.0, x.numel(), dtype=torch.float64)
    xr = x.clone().requires_grad_(True)
    (g,) = torch.autograd.grad((SURROGATES.get(name)(**kwargs)(xr) * w).sum(), xr)
    _, g1 = _surrogate_grad(name, kwargs, x)
    torch.testing.assert_close(g, g1 * w, rtol=1e-12, atol=1e-14)


def test_triangle_hand_values():
    """Triangle: max(0, gamma - |x|) / gamma^2 (1 at 0, 0.5 at +-0.5 for gamma 1; 2 at 0 for gamma 0.5)."""
    x = torch.tensor([-1.5, -0.5, 0.0, 0.25, 0.5, 1.0], dtype=torch.float64)
    _, g = _surrogate_grad("triangle", {}, x)
    assert g.tolist() == pytest.approx([0.0, 0.5, 1.0, 0.75, 0.5, 0.0])
    _, g = _surrogate_grad("triangle", {"gamma": 0.5}, x)
    assert g.tolist() == pytest.approx([0.0, 0.0, 2.0, 1.0, 0.0, 0.0])


def test_dspike_equals_the_released_surrogate_by_hand():
    """The released Dspike (b = 3, region 3): 3 sech^2(3x) / (2 tanh(9)). By hand: 2 tanh(9) = 1.99999994,
    so 1.5 at x = 0; tanh(1.5) = 0.905148, sech^2 = 0.180707, x 1.5 = 0.271060 at x = +-0.5;
    sech^2(3) = 0.009866, x 1.5 = 0.014799 at x = 1; exactly 0 outside |x| <= 3 (x = 3.5)."""
    x = torch.tensor([0.0, 0.5, -0.5, 1.0, 3.0, 3.5, -10.0], dtype=torch.float64)
    _, g = _surrogate_grad("dspike", {}, x)
    assert g[:4].tolist() == pytest.approx([1.5, 0.271060, 0.271060, 0.0147991], rel=1e-5)
    assert 0 < g[4].item() < 1e-7  # the boundary itself passes (sech^2(9) = 6.1e-8)
    assert g[5:].tolist() == [0.0, 0.0]
    # the smooth form rises by (almost exactly) 1 over the whole window [-3, 3]
    rise = smooth_form("dspike", torch.tensor(3.0)) - smooth_form("dspike", torch.tensor(-3.0))
    assert rise.item() == pytest.approx(1.0, abs=1e-12)


def test_dspike_unit_is_the_li_normalisation_and_1_105x_the_released():
    """dspike_unit: b sech^2(b x) / (2 tanh(b/2)), 3 / (2 tanh 1.5) = 1.657 at x = 0 for b = 3, i.e.
    tanh(9) / tanh(1.5) = 1.1048 times the released Dspike everywhere inside the window."""
    x = torch.tensor([0.0, 0.2, 2.9, 3.01, -3.2, 10.0], dtype=torch.float64)
    _, g = _surrogate_grad("dspike_unit", {}, x)
    scale = 3.0 / (2 * math.tanh(1.5))
    assert g[0].item() == pytest.approx(scale) and scale == pytest.approx(1.65719, rel=1e-5)
    assert g[1].item() == pytest.approx(scale / math.cosh(0.6) ** 2)
    assert g[3:].tolist() == [0.0, 0.0, 0.0]
    _, released = _surrogate_grad("dspike", {}, x[:3])
    assert (g[:3] / released).tolist() == pytest.approx([1.104800] * 3, rel=1e-5)
    for b in (2.0, 3.0):  # the smooth form rises by exactly 1 over [-1/2, 1/2], for any b
        rise = smooth_form("dspike_unit", torch.tensor(0.5), b=b) - smooth_form(
            "dspike_unit", torch.tensor(-0.5), b=b
        )
        assert rise.item() == pytest.approx(1.0)


def test_dspike_window_cuts_the_gradient():
    """A narrow window cuts the gradient where the smooth form's derivative is still clearly non-zero."""
    xg = _grid()
    _, g = _surrogate_grad("dspike", {"b": 2.0, "window": 0.5}, xg)
    outside = xg.abs() > 0.5
    assert torch.all(g[outside] == 0)
    assert torch.all(g[~outside] > 0)
    assert torch.all(_smooth_grad("dspike_unit", {"b": 2.0}, xg)[outside & (xg.abs() < 1.0)] > 0.05)


def test_sigmoid_hand_values():
    """Sigmoid surrogate: k s (1 - s) with s = sigmoid(k x): k/4 at x = 0."""
    x = torch.tensor([0.0, 0.5], dtype=torch.float64)
    _, g = _surrogate_grad("sigmoid", {}, x)
    s = 1 / (1 + math.exp(-2.0))
    assert g.tolist() == pytest.approx([1.0, 4 * s * (1 - s)])
    _, g = _surrogate_grad("sigmoid", {"k": 2.0}, x)
    assert g[0].item() == pytest.approx(0.5)


def test_smooth_form_unknown_name_raises():
    """smooth_form rejects a name it does not know."""
    with pytest.raises(KeyError):
        smooth_form("nope", torch.zeros(1))
    with pytest.raises(KeyError):
        SURROGATES.get("nope")
