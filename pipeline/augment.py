"""Training-time augmentation on batches of tensors."""

import torch
import torch.nn.functional as F


def random_shift(x: torch.Tensor, max_shift: int, generator: torch.Generator | None = None) -> torch.Tensor:
    """Translate every sample by its own random (dy, dx) in [-max_shift, max_shift], filling with zeros:
    the random crop with padding of the CIFAR recipes. Works on `[N, C, H, W]` and on event data
    `[N, T, C, H, W]` (all frames of a sample move together)."""
    if max_shift <= 0:
        return x
    n, (h, w) = x.shape[0], x.shape[-2:]
    padded = F.pad(x, (max_shift,) * 4)
    offsets = torch.randint(0, 2 * max_shift + 1, (n, 2), generator=generator)
    out = torch.empty_like(x)
    for dy, dx in torch.unique(offsets, dim=0).tolist():  # at most (2s+1)^2 groups
        rows = ((offsets[:, 0] == dy) & (offsets[:, 1] == dx)).nonzero().squeeze(1)
        out[rows] = padded[rows, ..., dy : dy + h, dx : dx + w]
    return out
