"""Training-time augmentation on batches: the recipes' random crop (shift), horizontal flip, roll (the
released CIFAR10-DVS recipe), Cutout and torchvision's AutoAugment (CIFAR-10 policy).

Every function takes a batch `[N, C, H, W]` (static images, uint8 or float) or `[N, T, C, H, W]` (event
frames: all frames of a sample move together) and a `torch.Generator`, so runs are reproducible. The
batch may live on any device: random numbers are drawn on the CPU generator and only the small index
and mask tensors are moved, so a GPU-resident batch gets exactly the CPU path's augmentation.
"""

from dataclasses import dataclass

import torch
import torch.nn.functional as F


@dataclass(frozen=True)
class AugmentSpec:
    shift: int = 0  # random translation by up to this many pixels, zero fill (crop with padding)
    flip: bool = False  # random horizontal flip
    roll: int = 0  # random circular shift by up to this many pixels (released CIFAR10-DVS recipe)
    cutout: int = 0  # side of one zeroed square at a random place (DeVries & Taylor); 0 = off
    autoaugment: bool = False  # torchvision AutoAugment, CIFAR-10 policy (uint8 RGB images only)

    def active(self) -> bool:
        return bool(self.shift or self.flip or self.roll or self.cutout or self.autoaugment)


def _groups(offsets: torch.Tensor, device: torch.device):
    """Yield (offset row, sample indices on `device`) for each distinct offset: one tensor op per group."""
    for value in torch.unique(offsets, dim=0):
        yield value.tolist(), (offsets == value).all(dim=1).nonzero().squeeze(1).to(device)


def random_shift(x: torch.Tensor, max_shift: int, generator: torch.Generator | None = None) -> torch.Tensor:
    """Translate every sample by its own random (dy, dx) in [-max_shift, max_shift], filling with zeros:
    the random crop with padding of the CIFAR recipes."""
    if max_shift <= 0:
        return x
    h, w = x.shape[-2:]
    padded = F.pad(x, (max_shift,) * 4)
    offsets = torch.randint(0, 2 * max_shift + 1, (x.shape[0], 2), generator=generator)
    out = torch.empty_like(x)
    for (dy, dx), rows in _groups(offsets, x.device):
        out[rows] = padded[rows, ..., dy : dy + h, dx : dx + w]
    return out


def random_roll(x: torch.Tensor, max_roll: int, generator: torch.Generator | None = None) -> torch.Tensor:
    """Circularly shift every sample by its own random (dy, dx) in [-max_roll, max_roll]."""
    if max_roll <= 0:
        return x
    offsets = torch.randint(-max_roll, max_roll + 1, (x.shape[0], 2), generator=generator)
    out = torch.empty_like(x)
    for (dy, dx), rows in _groups(offsets, x.device):
        out[rows] = torch.roll(x[rows], shifts=(dy, dx), dims=(-2, -1))
    return out


def random_flip(x: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
    flip = (torch.rand(x.shape[0], generator=generator) < 0.5).to(x.device)
    out = x.clone()
    out[flip] = x[flip].flip(-1)
    return out


def cutout(x: torch.Tensor, size: int, generator: torch.Generator | None = None) -> torch.Tensor:
    """Zero one `size` x `size` square per sample, centred at a random pixel (clipped at the border)."""
    if size <= 0:
        return x
    h, w = x.shape[-2:]
    cy = torch.randint(0, h, (x.shape[0],), generator=generator)
    cx = torch.randint(0, w, (x.shape[0],), generator=generator)
    y0, x0 = (cy - size // 2)[:, None], (cx - size // 2)[:, None]  # [N, 1] top-left corners
    ys, xs = torch.arange(h)[None, :], torch.arange(w)[None, :]
    in_y = (ys >= y0) & (ys < y0 + size)  # [N, H]
    in_x = (xs >= x0) & (xs < x0 + size)  # [N, W]
    keep = ~(in_y[:, :, None] & in_x[:, None, :])  # [N, H, W]
    shape = (x.shape[0],) + (1,) * (x.dim() - 3) + (h, w)
    return x * keep.view(shape).to(x.device, x.dtype)


def autoaugment(x: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
    """torchvision's AutoAugment with the CIFAR-10 policy, one random sub-policy per image."""
    from torchvision.transforms import v2

    policy = v2.AutoAugment(v2.AutoAugmentPolicy.CIFAR10)
    # torchvision draws from torch's global generator; seed it from ours so runs stay reproducible.
    seed = int(torch.randint(0, 2**31 - 1, (1,), generator=generator))
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return torch.stack([policy(img) for img in x])


def augment_batch(
    x: torch.Tensor, spec: AugmentSpec, generator: torch.Generator | None = None
) -> torch.Tensor:
    """Apply the recipe in the usual order: AutoAugment, crop, flip, roll, Cutout."""
    if spec.autoaugment:
        x = autoaugment(x, generator)
    x = random_shift(x, spec.shift, generator)
    if spec.flip:
        x = random_flip(x, generator)
    x = random_roll(x, spec.roll, generator)
    return cutout(x, spec.cutout, generator)
