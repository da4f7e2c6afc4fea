"""Surrogate spike functions: Heaviside forward, a smooth stand-in's derivative backward.

Each surrogate is a `torch.autograd.Function` on `x = u - V` (membrane minus threshold). Its backward
is the derivative of a named smooth function, so tests can compare it with autograd of that function.
"""

import math

import torch

from pipeline.registry import Registry


class _Triangle(torch.autograd.Function):
    """TET's surrogate: d/dx = max(0, gamma - |x|) / gamma^2 (gamma = 1 in TET)."""

    @staticmethod
    def forward(ctx, x: torch.Tensor, gamma: float) -> torch.Tensor:
        ctx.save_for_backward(x)
        ctx.gamma = gamma
        return (x >= 0).to(x.dtype)

    @staticmethod
    def backward(ctx, grad: torch.Tensor):
        (x,) = ctx.saved_tensors
        gamma = ctx.gamma
        return grad * (gamma - x.abs()).clamp(min=0) / gamma**2, None


class _Dspike(torch.autograd.Function):
    """Dspike (Li et al. 2021) as in the released SEENN ResNet-19/VGG-16: the derivative of
    tanh(b x) / (2 tanh(b / 2)) + 1/2, i.e. b sech^2(b x) / (2 tanh(b / 2)) (about 1.66 sech^2(3x) for
    b = 3), set to zero outside |x| <= window."""

    @staticmethod
    def forward(ctx, x: torch.Tensor, b: float, window: float) -> torch.Tensor:
        ctx.save_for_backward(x)
        ctx.b, ctx.window = b, window
        return (x >= 0).to(x.dtype)

    @staticmethod
    def backward(ctx, grad: torch.Tensor):
        (x,) = ctx.saved_tensors
        b, window = ctx.b, ctx.window
        sech2 = 1.0 - torch.tanh(b * x) ** 2
        slope = b * sech2 / (2.0 * math.tanh(b / 2.0))
        return grad * slope * (x.abs() <= window).to(x.dtype), None, None


class _Sigmoid(torch.autograd.Function):
    """Sigmoid surrogate (spikingjelly's default): derivative of sigmoid(k x)."""

    @staticmethod
    def forward(ctx, x: torch.Tensor, k: float) -> torch.Tensor:
        ctx.save_for_backward(x)
        ctx.k = k
        return (x >= 0).to(x.dtype)

    @staticmethod
    def backward(ctx, grad: torch.Tensor):
        (x,) = ctx.saved_tensors
        s = torch.sigmoid(ctx.k * x)
        return grad * ctx.k * s * (1 - s), None


SURROGATES: Registry = Registry("surrogate")


@SURROGATES.register("triangle")
def triangle(gamma: float = 1.0):
    return lambda x: _Triangle.apply(x, gamma)


@SURROGATES.register("dspike")
def dspike(b: float = 3.0, window: float = 3.0):
    return lambda x: _Dspike.apply(x, b, window)


@SURROGATES.register("sigmoid")
def sigmoid(k: float = 4.0):
    return lambda x: _Sigmoid.apply(x, k)


def smooth_form(name: str, x: torch.Tensor, **kwargs) -> torch.Tensor:
    """The smooth function whose derivative each surrogate's backward uses (for tests)."""
    if name == "triangle":
        gamma = kwargs.get("gamma", 1.0)
        # integral of the triangle: a piecewise quadratic ramp from 0 (x <= -gamma) to 1 (x >= gamma)
        y = x.clamp(-gamma, gamma)
        return torch.where(y < 0, (gamma + y) ** 2 / (2 * gamma**2), 1 - (gamma - y) ** 2 / (2 * gamma**2))
    if name == "dspike":
        b = kwargs.get("b", 3.0)
        return torch.tanh(b * x) / (2 * math.tanh(b / 2)) + 0.5
    if name == "sigmoid":
        return torch.sigmoid(kwargs.get("k", 4.0) * x)
    raise KeyError(name)
