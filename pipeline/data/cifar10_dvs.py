"""CIFAR10-DVS (Li et al. 2017) from a local copy of the original recordings, as event-count frames.

Layout: `root/<class>/*.aedat` for the 10 classes airplane, automobile, bird, cat, deer, dog, frog,
horse, ship, truck, 1,000 recordings each (the figshare zips extracted as they are; spikingjelly's
`extract/` folder has this layout). Real sensor recordings, not simulated.

File format (AER-DAT 2.0): ASCII header lines starting with `#`, then events of 8 bytes each, big-endian:
uint32 address, uint32 timestamp in microseconds. Address bits, decoded as spikingjelly's
`CIFAR10DVS._load_origin_data` does (checked against its source):
    raw_x = (addr & 0x00FE) >> 1        # 7 bits, 0..127
    raw_y = (addr & 0x7F00) >> 8        # 7 bits, 0..127
    raw_p =  addr & 0x0001
    x = 127 - raw_y,  y = 127 - raw_x,  p = 1 - raw_p
i.e. spikingjelly swaps and mirrors the raw axes so that the objects appear upright (see
jackd/events-tfds PR 1); `x` is the column and `y` the row of the 128x128 frame. Frame channel 0 holds
the events with `p == 0`, channel 1 those with `p == 1`, as spikingjelly's
`integrate_events_segment_to_frame`; which of the two is the sensor's ON polarity is not asserted here.

Frames (spikingjelly's `split_by='number'`): a recording's E events, in file order, are cut into
`frames` slices of `E // frames` events each, the last slice also taking the remainder, and each slice
is accumulated into `[2, 128, 128]` counts. The `[frames, 2, 128, 128]` counts are then resized to
`size x size` by area interpolation (each output pixel is the mean count over the input window it covers,
`torch.nn.functional.interpolate(mode="area")`), so values are mean counts per input pixel, no longer
whole numbers. `interpolation="bilinear"` (antialiased) is the alternative. The released SEENN loader
applies torchvision's `Resize((48, 48))` (bilinear) to pre-built 128x128 tensors whose making is not
shipped (TET's own preprocessing script divides each frame by its maximum, and TET's loader passes
frames through `ToPILImage`, whose cast to uint8 would wrap values above 1); neither is copied here.

Split: CIFAR10-DVS ships no train/test split, and accuracies in this field move by several points with
the choice (test sets of 1,000 recordings are small, and which recordings are held out matters:
spikingjelly's `CIFAR10DVSTEBNSplit`, which tests on samples 0-99 of each class, warns that it scores
"much higher" than a random split), so numbers from different splits are not comparable. Here, per
class, the recordings sorted by file name (plain string order, as spikingjelly's `DatasetFolder` lists
them: `..._0, _1, _10, _100, ...`) are split 9:1, the first 900 for training and the last 100 for
testing. That is spikingjelly's `split_to_train_test_set(0.9, dataset, 10)` without shuffling, the
9,000 / 1,000 split the TET line of work (and SEENN, which trains with TET) reports. The released code
only loads pre-built `.pt` files, so the exact split behind the published tables cannot be checked.
"""

import os
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import NamedTuple

import numpy as np
import torch
import torch.nn.functional as F

from pipeline.data.cifar import CIFAR10_CLASSES

SENSOR_SIZE = 128  # the DVS128 sensor: 128x128 pixels
RECORDINGS_PER_CLASS = 1000  # in the original data set
_EVENT_BYTES = 8  # uint32 address + uint32 timestamp
_INTERPOLATIONS = ("area", "bilinear")
_MAX_THREADS = 8


class Events(NamedTuple):
    """One recording's events in file order, each `[E]`: timestamp (us), column, row, polarity (0/1)."""

    t: np.ndarray
    x: np.ndarray
    y: np.ndarray
    p: np.ndarray


def _missing_message(root: Path) -> str:
    return (
        f"CIFAR10-DVS not found under {root}: put the original recordings there as "
        f"{root}/<class>/*.aedat for the 10 classes {', '.join(CIFAR10_CLASSES)} "
        f"(the 10 class zips of the CIFAR10-DVS release on figshare, extracted as they are)"
    )


def read_aedat(path: Path) -> Events:
    """Decode one CIFAR10-DVS AER-DAT 2.0 file (bit layout in the module docstring).

    Raises:
        ValueError: If the bytes after the header are not whole 8-byte events, or there are none.
    """
    data = Path(path).read_bytes()
    # Header: leading lines starting with '#'. An address's first byte is 0 (only 15 bits are used), so
    # the event data can never be mistaken for another header line.
    start = 0
    while data.startswith(b"#", start):
        end = data.find(b"\n", start)
        start = len(data) if end < 0 else end + 1
    payload = len(data) - start
    if payload % _EVENT_BYTES:
        raise ValueError(
            f"{path} is cut short: {payload} bytes of events after the header is not a multiple of "
            f"{_EVENT_BYTES} (4-byte address + 4-byte timestamp)"
        )
    if payload == 0:
        raise ValueError(f"{path} holds no events after its header")
    words = np.frombuffer(data, dtype=">u4", offset=start).reshape(-1, 2)  # [E, (address, timestamp)]
    addr = words[:, 0]
    raw_x = (addr & 0x00FE) >> 1
    raw_y = (addr & 0x7F00) >> 8
    raw_p = addr & 0x0001
    last = SENSOR_SIZE - 1
    return Events(
        t=words[:, 1].astype(np.int64),
        x=(last - raw_y).astype(np.int64),
        y=(last - raw_x).astype(np.int64),
        p=(1 - raw_p).astype(np.int64),
    )


def events_to_frames(events: Events, frames: int, height: int, width: int) -> np.ndarray:
    """Accumulate events into `frames` equal-count slices (spikingjelly's `split_by='number'`).

    Args:
        events: `E >= 1` events in time order; `x < width`, `y < height`, `p` in {0, 1}.
        frames: Number of slices T >= 1; slice i holds events `i * (E // T)` up to `(i + 1) * (E // T)`,
            the last slice also the remaining `E % T` (all of them when E < T).
        height: Frame height (rows, indexed by `y`).
        width: Frame width (columns, indexed by `x`).

    Returns:
        `[frames, 2, height, width]` float32 event counts; channel c holds the events with `p == c`.

    Raises:
        ValueError: On no events, a bad `frames`, or a coordinate or polarity out of range.
    """
    n = len(events.x)
    if n == 0:
        raise ValueError("no events to integrate")
    if not isinstance(frames, (int, np.integer)) or frames < 1:
        raise ValueError(f"frames must be an integer >= 1, got {frames!r}")
    x, y, p = (np.asarray(a, dtype=np.int64) for a in (events.x, events.y, events.p))
    if x.min() < 0 or x.max() >= width or y.min() < 0 or y.max() >= height or not np.isin(p, (0, 1)).all():
        raise ValueError(f"events out of range: x must be in [0, {width}), y in [0, {height}), p in {{0, 1}}")
    per_slice = n // frames
    if per_slice:
        slot = np.minimum(np.arange(n) // per_slice, frames - 1)  # [E]; the last slice takes the rest
    else:
        slot = np.full(n, frames - 1)  # fewer events than frames: spikingjelly puts them all last
    flat = ((slot * 2 + p) * height + y) * width + x  # index into [T, 2, H, W]
    counts = np.bincount(flat, minlength=frames * 2 * height * width)
    return counts.reshape(frames, 2, height, width).astype(np.float32)


def resize_frames(frames: np.ndarray, size: int, interpolation: str = "area") -> np.ndarray:
    """Resize `[T, 2, H, W]` counts to `[T, 2, size, size]` float32 ("area" or antialiased "bilinear")."""
    if interpolation not in _INTERPOLATIONS:
        raise ValueError(f"interpolation must be one of {', '.join(_INTERPOLATIONS)}, got {interpolation!r}")
    if frames.shape[-1] == size and frames.shape[-2] == size:
        return frames.astype(np.float32)
    x = torch.from_numpy(np.ascontiguousarray(frames, dtype=np.float32))  # T acts as the batch
    if interpolation == "area":
        out = F.interpolate(x, size=(size, size), mode="area")
    else:
        out = F.interpolate(x, size=(size, size), mode="bilinear", align_corners=False, antialias=True)
    return out.numpy()


def list_recordings(
    root: Path, train_per_class: int = 900
) -> tuple[list[tuple[Path, int]], list[tuple[Path, int]]]:
    """The fixed split: per class, files sorted by name, the first `train_per_class` train, the rest test.

    Args:
        root: Folder with one sub-folder of `.aedat` files per class (module docstring).
        train_per_class: Recordings of each class used for training (900 of the original 1,000).

    Returns:
        `(train, test)`, each a list of `(path, label)`, label = index in `CIFAR10_CLASSES`.

    Raises:
        FileNotFoundError: If the data set or a class folder is missing, or a class has no recordings.
        ValueError: If a class has no more than `train_per_class` recordings (its test part is empty).
    """
    root = Path(root)
    if not root.is_dir() or not any((root / c).is_dir() for c in CIFAR10_CLASSES):
        raise FileNotFoundError(_missing_message(root))
    if not isinstance(train_per_class, (int, np.integer)) or train_per_class < 1:
        raise ValueError(f"train_per_class must be an integer >= 1, got {train_per_class!r}")
    train, test = [], []
    for label, cls in enumerate(CIFAR10_CLASSES):
        folder = root / cls
        if not folder.is_dir():
            raise FileNotFoundError(
                f"{folder} is missing: CIFAR10-DVS needs one folder per class, {cls!r} included"
            )
        files = sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() == ".aedat")
        if not files:
            raise FileNotFoundError(f"{folder} holds no .aedat recordings")
        if len(files) <= train_per_class:
            raise ValueError(
                f"{folder} holds {len(files)} recordings, need more than train_per_class={train_per_class} "
                f"so that some are left for testing ({RECORDINGS_PER_CLASS} in the original data set)"
            )
        train += [(f, label) for f in files[:train_per_class]]
        test += [(f, label) for f in files[train_per_class:]]
    return train, test


def _subset(items: list[tuple[Path, int]], k: int, split: str) -> list[tuple[Path, int]]:
    """The first `k` items of each label, in order."""
    kept, seen = [], {}
    for path, label in items:
        if seen.get(label, 0) < k:
            kept.append((path, label))
            seen[label] = seen.get(label, 0) + 1
    short = [CIFAR10_CLASSES[c] for c in range(len(CIFAR10_CLASSES)) if seen.get(c, 0) < k]
    if short:
        raise ValueError(f"subset_per_class={k} exceeds the {split} recordings of class {short[0]!r}")
    return kept


def _load_split(
    items: list[tuple[Path, int]], frames: int, size: int, interpolation: str
) -> tuple[np.ndarray, np.ndarray]:
    out = np.empty((len(items), frames, 2, size, size), dtype=np.float32)  # [N, T, 2, S, S]

    def convert(i: int) -> None:
        events = read_aedat(items[i][0])
        counts = events_to_frames(events, frames, SENSOR_SIZE, SENSOR_SIZE)  # [T, 2, 128, 128]
        out[i] = resize_frames(counts, size, interpolation)

    workers = max(1, min(_MAX_THREADS, os.cpu_count() or 1))
    with ThreadPoolExecutor(max_workers=workers) as pool:
        list(pool.map(convert, range(len(items))))  # file reads and numpy overlap; raises the first error
    return out, np.array([label for _, label in items], dtype=np.int64)


def load_cifar10_dvs(
    root: Path,
    frames: int = 10,
    size: int = 48,
    subset_per_class: int = 0,
    train_per_class: int = 900,
    interpolation: str = "area",
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Load CIFAR10-DVS as resized event-count frames with the fixed 9:1 per-class split.

    Args:
        root: Folder with `<class>/*.aedat` for the 10 classes (module docstring).
        frames: Equal-count time slices T per recording (10 in TET / SEENN).
        size: Output height = width (48 in TET / SEENN); 128 keeps the raw counts.
        subset_per_class: If > 0, keep only the first k recordings of each class in each split (smoke
            runs); the others are not read. 0 keeps all.
        train_per_class: Recordings per class, in file-name order, that go to training; the rest test.
        interpolation: "area" (default) or "bilinear" (antialiased) for the 128 -> `size` resize.

    Returns:
        `x_train [N, T, 2, size, size]` float32, `y_train [N]` int64, `x_test`, `y_test` likewise;
        grouped by class in file-name order. The full set at T=10, 48x48 takes about 1.8 GB.

    Raises:
        FileNotFoundError: If the data set (message says where to put it) or a class folder is missing.
        ValueError: On a bad argument or a corrupt recording (named).
    """
    train, test = list_recordings(root, train_per_class)
    if not isinstance(frames, (int, np.integer)) or frames < 1:
        raise ValueError(f"frames must be an integer >= 1, got {frames!r}")
    if not isinstance(size, (int, np.integer)) or size < 1:
        raise ValueError(f"size must be an integer >= 1, got {size!r}")
    if interpolation not in _INTERPOLATIONS:
        raise ValueError(f"interpolation must be one of {', '.join(_INTERPOLATIONS)}, got {interpolation!r}")
    if not isinstance(subset_per_class, (int, np.integer)) or subset_per_class < 0:
        raise ValueError(f"subset_per_class must be an integer >= 0 (0 keeps all), got {subset_per_class!r}")
    if subset_per_class:
        train, test = _subset(train, subset_per_class, "train"), _subset(test, subset_per_class, "test")
    x_train, y_train = _load_split(train, frames, size, interpolation)
    x_test, y_test = _load_split(test, frames, size, interpolation)
    return x_train, y_train, x_test, y_test
