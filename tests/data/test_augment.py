"""Augmentation: each transform does what its recipe says, per sample, reproducibly."""

import torch

from pipeline.data.augment import (
    AugmentSpec,
    augment_batch,
    autoaugment,
    cutout,
    random_flip,
    random_roll,
    random_shift,
)


def gen(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def test_shift_moves_content_and_fills_zeros():
    """A single bright pixel moves by at most `shift` in each direction; the rest is zero-filled."""
    x = torch.zeros(64, 1, 9, 9)
    x[:, :, 4, 4] = 1.0
    y = random_shift(x, 2, gen())
    assert torch.equal(y.sum(dim=(1, 2, 3)), torch.ones(64))
    pos = y[:, 0].flatten(1).argmax(1)
    rows, cols = pos // 9, pos % 9
    assert (rows - 4).abs().max() <= 2 and (cols - 4).abs().max() <= 2
    assert len(set(zip(rows.tolist(), cols.tolist()))) > 10  # each sample draws its own offset


def test_roll_keeps_every_value_and_event_frames_move_together():
    """Roll is circular (the pixel sum is kept) and moves all frames of an event sample alike."""
    x = torch.rand(16, 3, 2, 8, 8)
    y = random_roll(x, 3, gen())
    assert torch.allclose(y.sum(dim=(-2, -1)), x.sum(dim=(-2, -1)))
    for n in range(16):
        shifts = [
            (dy, dx)
            for dy in range(-3, 4)
            for dx in range(-3, 4)
            if torch.equal(torch.roll(x[n], (dy, dx), (-2, -1)), y[n])
        ]
        assert shifts


def test_flip_and_cutout():
    """Flip mirrors about half the samples; Cutout zeroes exactly size^2 pixels away from borders."""
    x = torch.arange(64.0).view(1, 1, 8, 8).repeat(200, 1, 1, 1)
    flipped = random_flip(x, gen())
    mirrored = (flipped == x.flip(-1)).all(dim=(1, 2, 3))
    assert 60 < int(mirrored.sum()) < 140
    ones = torch.ones(100, 3, 16, 16)
    cut = cutout(ones, 4, gen())
    zeros = (cut[:, 0] == 0).sum(dim=(1, 2))
    assert zeros.max() == 16 and zeros.min() >= 4  # clipped at borders, never more than 4x4
    assert torch.equal(cut[:, 0], cut[:, 2])  # the same square in every channel


def test_augment_is_reproducible_and_autoaugment_runs_on_uint8():
    """Equal generator seeds give equal batches, AutoAugment included; dtype is kept."""
    x = torch.randint(0, 256, (6, 3, 32, 32), dtype=torch.uint8)
    spec = AugmentSpec(shift=4, flip=True, cutout=8, autoaugment=True)
    a, b = augment_batch(x, spec, gen(3)), augment_batch(x, spec, gen(3))
    assert a.dtype == torch.uint8 and torch.equal(a, b)
    assert autoaugment(x, gen(1)).shape == x.shape
    assert augment_batch(x, AugmentSpec(), gen()) is x
