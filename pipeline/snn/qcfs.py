"""QCFS activation (Bu et al., ICLR 2022): the quantised clip-floor-shift ReLU an ANN is trained with so
that it converts to an IF-neuron SNN with little error at low T.

y = lambda * clamp(floor(x * L / lambda + 0.5) / L, 0, 1), lambda learnable, straight-through floor.

Two paths compute it. The reference path is the formula as autograd sees it (six elementwise nodes, each
keeping its input for the backward pass). The fused path (`fused = True`, set by the speed switch
`fused_qcfs`) is one autograd node with the gradient written out by hand: with the straight-through
floor, inside the band of levels 1..L-1 (where torch.clamp passes the gradient: strictly between its
bounds) dy/dx = 1 and dy/dlambda = y/lambda - x/lambda; outside it dy/dx = 0 and dy/dlambda = y/lambda
(0 at level 0, 1 at level L). Same values, other float rounding in the lambda gradient.
"""

import torch
from torch import nn


class _FloorSTE(torch.autograd.Function):
    """floor in the forward pass, identity in the backward pass."""

    @staticmethod
    def forward(ctx, x: torch.Tensor) -> torch.Tensor:
        return torch.floor(x)

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> torch.Tensor:
        return grad


def _flat_layout(t: torch.Tensor) -> bool:
    """Whether `t`'s elements fill its memory without gaps: contiguous, or channels-last `[N, C, H, W]`."""
    return t.is_contiguous() or (t.dim() == 4 and t.is_contiguous(memory_format=torch.channels_last))


def _dot(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """sum(a * b) of two same-shaped tensors: one BLAS dot over the memory of both when they are dense
    with the same strides (e.g. both channels-last), else the elementwise product summed."""
    if a.stride() == b.stride() and (_flat_layout(a) and _flat_layout(b)):
        flat = (a.numel(),), (1,)
        return torch.dot(a.as_strided(*flat, a.storage_offset()), b.as_strided(*flat, b.storage_offset()))
    return (a * b).sum()


class _FusedQCFS(torch.autograd.Function):
    """QCFS forward in place on one buffer; backward from the saved input and output (any shape)."""

    @staticmethod
    def forward(ctx, x: torch.Tensor, lam: torch.Tensor, levels: int) -> torch.Tensor:
        # integer level q = clamp(floor(x L / lam + 0.5), 0, L), then y = q lam / L
        step = lam / levels
        y = torch.mul(x, 1.0 / step).add_(0.5).floor_().clamp_(0, levels).mul_(step)
        ctx.save_for_backward(x, y, lam, step)
        ctx.levels = levels
        return y

    @staticmethod
    def backward(ctx, grad: torch.Tensor):
        x, y, lam, step = ctx.saved_tensors
        # the reference path's torch.clamp passes the gradient strictly between its bounds: levels 1..L-1,
        # i.e. 0 < y < L * step (the top level's exact float, as the forward computed it); hardtanh's
        # backward is that mask and the product in one kernel
        if grad.stride() != y.stride():  # in y's memory layout, so that both dots below are BLAS dots
            grad = torch.empty_like(y).copy_(grad)
        top = float(step * ctx.levels)
        grad_x = torch.ops.aten.hardtanh_backward(grad, y, 0.0, top)
        # dL/dlam = sum(g y - g band x) / lam
        grad_lam = (_dot(grad, y) - _dot(grad_x, x)) / lam
        return grad_x, grad_lam.reshape(lam.shape), None


class QCFS(nn.Module):
    """Elementwise QCFS activation; works on any shape, including `[T, N, ...]` with T = 1."""

    def __init__(self, levels: int = 4, lambda_init: float = 8.0):
        super().__init__()
        if levels < 1:
            raise ValueError(f"QCFS levels must be >= 1, got {levels}")
        self.levels = levels
        self.lam = nn.Parameter(torch.tensor(float(lambda_init)))  # the clip value, later the IF threshold
        self.fused = False  # one autograd node (speed switch fused_qcfs); same values, other rounding

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.fused:
            return _FusedQCFS.apply(x, self.lam, self.levels)
        y = x / self.lam
        y = _FloorSTE.apply(y * self.levels + 0.5) / self.levels
        return torch.clamp(y, 0.0, 1.0) * self.lam

    def extra_repr(self) -> str:
        return f"levels={self.levels}, lambda={self.lam.item():.4g}"
