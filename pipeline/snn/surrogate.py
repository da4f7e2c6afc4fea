"""Surrogate spike functions: Heaviside forward, a smooth stand-in's derivative backward.

Each surrogate is a `torch.autograd.Function` on `x = u - V` (membrane minus threshold). Its backward
is the derivative of a named smooth function, so tests can compare it with autograd of that function.
"""

import math
from collections.abc import Callable
from dataclasses import dataclass

import torch

from pipeline.core.registry import Registry


Derivative = Callable[[torch.Tensor], torch.Tensor]  # x -> d(smooth)/dx, elementwise


class _Spike(torch.autograd.Function):
    """H(x) forward; `grad * derivative(x)` backward."""

    @staticmethod
    def forward(ctx, x: torch.Tensor, derivative: Derivative) -> torch.Tensor:
        ctx.save_for_backward(x)
        ctx.derivative = derivative
        return (x >= 0).to(x.dtype)

    @staticmethod
    def backward(ctx, grad: torch.Tensor):
        (x,) = ctx.saved_tensors
        return grad * ctx.derivative(x), None


@dataclass(frozen=True)
class Surrogate:
    """A spike function: call it on `x = u - V`; `derivative` is also used by the fused LIF backward
    (pipeline/snn/fused_lif.py), so both paths share one formula."""

    name: str
    derivative: Derivative

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        return _Spike.apply(x, self.derivative)


SURROGATES: Registry = Registry("surrogate")


@SURROGATES.register("triangle")
def triangle(gamma: float = 1.0) -> Surrogate:
    """TET's surrogate: d/dx = max(0, gamma - |x|) / gamma^2 (gamma = 1 in TET)."""
    return Surrogate("triangle", lambda x: (gamma - x.abs()).clamp(min=0) / gamma**2)


@SURROGATES.register("dspike")
def dspike(b: float = 3.0, window: float = 3.0) -> Surrogate:
    """Dspike as the released SEENN ResNet-19 / VGG-16 use it (temperature b = 3, region 3): the derivative
    of tanh(b x) / (2 tanh(b * window)) + 1/2 on |x| <= window, i.e. b sech^2(b x) / (2 tanh(b * window))
    (1.5 sech^2(3x) for b = 3: 1.5 at x = 0), and exactly 0 outside the window (the release clamps x)."""
    scale = b / (2.0 * math.tanh(b * window))

    def derivative(x: torch.Tensor) -> torch.Tensor:
        sech2 = 1.0 - torch.tanh(b * x) ** 2
        return scale * sech2 * (x.abs() <= window).to(x.dtype)

    return Surrogate("dspike", derivative)


@SURROGATES.register("dspike_unit")
def dspike_unit(b: float = 3.0, window: float = 3.0) -> Surrogate:
    """Dspike normalised as in Li et al. 2021 (the smooth form rises by 1 over |x| <= 1/2): derivative
    b sech^2(b x) / (2 tanh(b / 2)), 1.657 at x = 0 for b = 3, zero outside |x| <= window. This project's
    default before it was checked against the release; 1.105x the released gradient for b = 3."""
    scale = b / (2.0 * math.tanh(b / 2.0))

    def derivative(x: torch.Tensor) -> torch.Tensor:
        sech2 = 1.0 - torch.tanh(b * x) ** 2
        return scale * sech2 * (x.abs() <= window).to(x.dtype)

    return Surrogate("dspike_unit", derivative)


@SURROGATES.register("sigmoid")
def sigmoid(k: float = 4.0) -> Surrogate:
    """Sigmoid surrogate (spikingjelly's default): derivative of sigmoid(k x)."""

    def derivative(x: torch.Tensor) -> torch.Tensor:
        s = torch.sigmoid(k * x)
        return k * s * (1 - s)

    return Surrogate("sigmoid", derivative)


def smooth_form(name: str, x: torch.Tensor, **kwargs) -> torch.Tensor:
    """The smooth function whose derivative each surrogate's backward uses (for tests)."""
    if name == "triangle":
        gamma = kwargs.get("gamma", 1.0)
        # integral of the triangle: a piecewise quadratic ramp from 0 (x <= -gamma) to 1 (x >= gamma)
        y = x.clamp(-gamma, gamma)
        return torch.where(y < 0, (gamma + y) ** 2 / (2 * gamma**2), 1 - (gamma - y) ** 2 / (2 * gamma**2))
    if name == "dspike":
        b, window = kwargs.get("b", 3.0), kwargs.get("window", 3.0)
        return torch.tanh(b * x) / (2 * math.tanh(b * window)) + 0.5
    if name == "dspike_unit":
        b = kwargs.get("b", 3.0)
        return torch.tanh(b * x) / (2 * math.tanh(b / 2)) + 0.5
    if name == "sigmoid":
        return torch.sigmoid(kwargs.get("k", 4.0) * x)
    raise KeyError(name)
