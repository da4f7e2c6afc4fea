"""QCFS activation (Bu et al., ICLR 2022): the quantised clip-floor-shift ReLU an ANN is trained with so
that it converts to an IF-neuron SNN with little error at low T.

y = lambda * clamp(floor(x * L / lambda + 0.5) / L, 0, 1), lambda learnable, straight-through floor.
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


class QCFS(nn.Module):
    """Elementwise QCFS activation; works on any shape, including `[T, N, ...]` with T = 1."""

    def __init__(self, levels: int = 4, lambda_init: float = 8.0):
        super().__init__()
        if levels < 1:
            raise ValueError(f"QCFS levels must be >= 1, got {levels}")
        self.levels = levels
        self.lam = nn.Parameter(torch.tensor(float(lambda_init)))  # the clip value, later the IF threshold

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = x / self.lam
        y = _FloorSTE.apply(y * self.levels + 0.5) / self.levels
        return torch.clamp(y, 0.0, 1.0) * self.lam

    def extra_repr(self) -> str:
        return f"levels={self.levels}, lambda={self.lam.item():.4g}"
