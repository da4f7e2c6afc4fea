"""QCFS activation (Bu et al., ICLR 2022): the quantised clip-floor-shift ReLU an ANN is trained with so
that it converts to an IF-neuron SNN with little error at low T.

y = lambda * clamp(floor(x * L / lambda + 0.5) / L, 0, 1), lambda learnable, straight-through floor.

Two paths compute it. The reference path is the formula as autograd sees it (six elementwise nodes, each
keeping its input for the backward pass). The fused path (`fused = True`, set by the speed switch
`fused_neurons`) is one autograd node with the gradient written out by hand: with the straight-through
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


class _FusedQCFS(torch.autograd.Function):
    """QCFS forward in place on one buffer; backward from the saved input and output (any shape)."""

    @staticmethod
    def forward(ctx, x: torch.Tensor, lam: torch.Tensor, levels: int) -> torch.Tensor:
        # integer level q = clamp(floor(x L / lam + 0.5), 0, L), then y = q lam / L
        q = torch.mul(x, levels / lam).add_(0.5).floor_().clamp_(0, levels)
        y = q.mul_(lam / levels)
        ctx.save_for_backward(x, lam, y)
        ctx.levels = levels
        return y

    @staticmethod
    def backward(ctx, grad: torch.Tensor):
        x, lam, y = ctx.saved_tensors
        levels = ctx.levels
        # the band where torch.clamp passes the gradient in the reference path: strictly inside (0, 1),
        # i.e. level floor(x L / lam + 0.5) in [1, L - 1]: x in [lam / 2L, lam (L - 1/2) / L)
        band = (x >= 0.5 * lam / levels) & (x < lam * (levels - 0.5) / levels)
        grad_x = grad * band
        # dL/dlam = sum(g y - g band x) / lam
        grad_lam = ((grad * y).sum() - (grad_x * x).sum()) / lam
        return grad_x, grad_lam.reshape(lam.shape), None


class QCFS(nn.Module):
    """Elementwise QCFS activation; works on any shape, including `[T, N, ...]` with T = 1."""

    def __init__(self, levels: int = 4, lambda_init: float = 8.0):
        super().__init__()
        if levels < 1:
            raise ValueError(f"QCFS levels must be >= 1, got {levels}")
        self.levels = levels
        self.lam = nn.Parameter(torch.tensor(float(lambda_init)))  # the clip value, later the IF threshold
        self.fused = False  # one autograd node (speed switch fused_neurons); same values, other rounding

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.fused:
            return _FusedQCFS.apply(x, self.lam, self.levels)
        y = x / self.lam
        y = _FloorSTE.apply(y * self.levels + 0.5) / self.levels
        return torch.clamp(y, 0.0, 1.0) * self.lam

    def extra_repr(self) -> str:
        return f"levels={self.levels}, lambda={self.lam.item():.4g}"
