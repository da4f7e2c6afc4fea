"""The LIF time loop as one autograd node with a hand-written backward (the fast training path).

The reference path (`SpikingNeuron.forward`) records ~5 autograd nodes and saves ~4 tensors per step;
here the forward keeps only the charged membrane `h[t]` (`[T, N, ...]`, one tensor) and the backward
walks time in reverse with the same surrogate derivative. The math is the reference's exactly,
including the gradient through the (not detached) hard reset:

    h_t = tau * v_{t-1} + x_t,   s_t = H(h_t - V),   v_t = h_t * (1 - s_t),   v_0 = 0
    dL/dh_t = (dL/ds_t - dL/dv_t * h_t) * s'(h_t - V) + dL/dv_t * (1 - s_t)
    dL/dx_t = dL/dh_t,           dL/dv_{t-1} = tau * dL/dh_t,    dL/dv_T = 0

The two loops are plain tensor functions, so `torch.compile` can fuse each into one kernel per shape
(`compiled=True`; worth it on CUDA, measured in benchmarks/train_throughput.py).
"""

import torch

from pipeline.snn.surrogate import Derivative


def lif_forward(x: torch.Tensor, tau: float, threshold: float) -> tuple[torch.Tensor, torch.Tensor]:
    """Spikes `[T, N, ...]` and charged membranes `h [T, N, ...]` for inputs `x [T, N, ...]`.
    Outputs keep `x`'s memory format (channels-last stays channels-last)."""
    spikes, charged = torch.empty_like(x), torch.empty_like(x)
    v = torch.zeros_like(x[0])
    for t in range(x.shape[0]):
        h = tau * v + x[t]
        s = (h >= threshold).to(x.dtype)
        v = h * (1.0 - s)
        spikes[t], charged[t] = s, h
    return spikes, charged


def lif_backward(
    grad_spikes: torch.Tensor, charged: torch.Tensor, tau: float, threshold: float, derivative: Derivative
) -> torch.Tensor:
    """dL/dx `[T, N, ...]` from dL/ds `[T, N, ...]` and the saved `h` (see the module docstring)."""
    grad_x = torch.empty_like(charged)
    grad_v = torch.zeros_like(charged[0])
    for t in range(charged.shape[0] - 1, -1, -1):
        h = charged[t]
        s = (h >= threshold).to(h.dtype)
        grad_h = (grad_spikes[t] - grad_v * h) * derivative(h - threshold) + grad_v * (1.0 - s)
        grad_x[t] = grad_h
        grad_v = tau * grad_h
    return grad_x


_compiled: dict[str, object] = {}


def _loops(compiled: bool):
    if not compiled:
        return lif_forward, lif_backward
    if not _compiled:
        _compiled["forward"] = torch.compile(lif_forward, dynamic=False)
        _compiled["backward"] = torch.compile(lif_backward, dynamic=False)
    return _compiled["forward"], _compiled["backward"]


class _FusedLIF(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, tau, threshold, derivative, compiled):
        forward, _ = _loops(compiled)
        spikes, charged = forward(x, tau, threshold)
        ctx.save_for_backward(charged)
        ctx.args = (tau, threshold, derivative, compiled)
        return spikes

    @staticmethod
    def backward(ctx, grad_spikes):
        (charged,) = ctx.saved_tensors
        tau, threshold, derivative, compiled = ctx.args
        _, backward = _loops(compiled)
        grad_x = backward(grad_spikes, charged, tau, threshold, derivative)
        return grad_x, None, None, None, None


def fused_lif(
    x: torch.Tensor, tau: float, threshold: float, derivative: Derivative, compiled: bool = False
) -> torch.Tensor:
    """LIF spikes `[T, N, ...]` of inputs `x [T, N, ...]` from a fresh membrane, with one autograd node."""
    return _FusedLIF.apply(x, tau, threshold, derivative, compiled)
