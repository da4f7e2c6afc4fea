"""ImageNet (ILSVRC2012) from a local image-folder tree: a checked index, and a streaming feed.

ImageNet is never downloaded. `root` must hold the standard split, one folder per class (WordNet id):

    root/train/<wnid>/*.JPEG     (1,281,167 images in 1,000 folders)
    root/val/<wnid>/*.JPEG       (50,000 images, already sorted into the same class folders)

Label = position of the folder name in the sorted list of train class folders (torchvision's
ImageFolder rule, which for the 1,000 wnids is the usual ILSVRC2012 label order). Files of a class are
taken in name order; any extension Pillow reads is accepted (`IMAGE_EXTENSIONS`, case-insensitive),
other files are ignored.

`index_imagenet` scans and checks the tree (missing folders, empty classes, a file Pillow cannot read:
each a one-line error naming it) and returns the index as `PreparedData` with `stream` set; the data
stage saves it as `index.npz` + `info.json`. `imagenet_feed` turns that index into a `Feed` (see
`pipeline/data/feed.py`) that decodes and transforms images in DataLoader workers: RandomResizedCrop(224) and
a horizontal flip for training, Resize(256) + CenterCrop(224) for evaluation, `uint8 [N, 3, 224, 224]`
batches normalised later by `to_sequence` with the ImageNet mean and std.
"""

import os
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from pipeline.data.cifar import _first_line
from pipeline.data.prepared import DatasetInfo, ImageFolderIndex, PreparedData
from pipeline.data.feed import Shard

IMAGENET_MEAN = (0.485, 0.456, 0.406)  # per-channel mean and std of the training images in [0, 1]
IMAGENET_STD = (0.229, 0.224, 0.225)
INPUT_SIZE = 224  # side of the training crop and of the evaluation centre crop
RESIZE = 256  # evaluation: shorter side resized to this, then the centre INPUT_SIZE crop
IMAGE_EXTENSIONS = (".jpeg", ".jpg", ".png", ".ppm", ".bmp", ".pgm", ".tif", ".tiff", ".webp")
SPLITS = ("train", "val", "validation")  # "val": ImageNet's val folder, our test set
_CHECK_CHUNK = 512  # files per task of the parallel header check
_JPEG_END = b"\xff\xd9"  # end-of-image marker: a JPEG cut short lacks it

VALPREP = "https://github.com/soumith/imagenetloader.torch (valprep.sh, run inside val/)"


# ------------------------------------------------------------------------------------------ the index


def _layout(root: Path) -> str:
    return f"{root}/train/<wnid>/*.JPEG and {root}/val/<wnid>/*.JPEG"


def _entries(folder: Path) -> tuple[list[str], list[str]]:
    """Sorted (sub-folder names, image file names) of `folder`, hidden entries skipped."""
    dirs, images = [], []
    with os.scandir(folder) as it:
        for entry in it:
            if entry.name.startswith("."):
                continue
            if entry.is_dir():
                dirs.append(entry.name)
            elif entry.is_file() and entry.name.lower().endswith(IMAGE_EXTENSIONS):
                images.append(entry.name)
    return sorted(dirs), sorted(images)


def _class_folders(root: Path) -> list[str]:
    """Train class folders, after checking both splits exist and val has a folder for every class."""
    train_dir, val_dir = root / "train", root / "val"
    if not root.is_dir():
        raise FileNotFoundError(f"ImageNet root {root} is missing: expected {_layout(root)} (a local copy)")
    for split_dir in (train_dir, val_dir):
        if not split_dir.is_dir():
            raise FileNotFoundError(f"{split_dir} is missing: ImageNet needs {_layout(root)}")
    classes, loose = _entries(train_dir)
    if not classes:
        tars = sorted(p.name for p in train_dir.glob("*.tar"))
        hint = f" (it holds {len(tars)} .tar archives: extract each into train/<wnid>/)" if tars else ""
        raise ValueError(f"{train_dir} holds no class folders, expected {train_dir}/<wnid>/*.JPEG{hint}")
    val_classes, val_loose = _entries(val_dir)
    missing = [c for c in classes if c not in val_classes]
    if missing and val_loose:
        raise ValueError(
            f"{val_dir} holds {len(val_loose)} images directly instead of in class folders (the flat "
            f"ILSVRC2012 layout): sort them into {val_dir}/<wnid>/ first, e.g. with {VALPREP}"
        )
    if missing:
        raise FileNotFoundError(
            f"{val_dir / missing[0]} is missing: class {missing[0]!r} has a folder in {train_dir} but not "
            f"in {val_dir} ({len(missing)} of {len(classes)} class folders missing there)"
        )
    extra = [c for c in val_classes if c not in classes]
    if extra:
        raise FileNotFoundError(
            f"{train_dir / extra[0]} is missing: class {extra[0]!r} has a folder in {val_dir} but not in "
            f"{train_dir}"
        )
    return classes


def _list_split(root: Path, split: str, classes: list[str], k: int) -> tuple[np.ndarray, np.ndarray]:
    """Paths relative to `root` (UTF-8 bytes) and int64 labels of one split, the first `k` per class."""
    paths, labels = [], []
    for label, cls in enumerate(classes):
        _, files = _entries(root / split / cls)
        if not files:
            raise ValueError(
                f"{root / split / cls} holds no images (files ending in {', '.join(IMAGE_EXTENSIONS)})"
            )
        if k and len(files) < k:
            raise ValueError(
                f"{root / split / cls} holds {len(files)} images, fewer than the {k} requested per class"
            )
        files = files[:k] if k else files
        paths += [f"{split}/{cls}/{name}".encode() for name in files]
        labels.append(np.full(len(files), label, dtype=np.int64))
    return np.array(paths, dtype=bytes), np.concatenate(labels)


def _unreadable(path: str, err: BaseException) -> ValueError:
    return ValueError(f"{path} is not a readable image ({_first_line(err)})")


def check_image(path: str, full: bool = False) -> None:
    """Raise a one-line ValueError naming `path` unless Pillow reads it.

    The fast check parses the header (format, size, mode) and, for a JPEG, looks for the end-of-image
    marker in the last two bytes, which a file cut short lacks; only a JPEG without it (some carry
    trailing bytes), a non-JPEG or `full=True` is decoded completely, so that the decoder decides.
    """
    try:
        with Image.open(path) as img:
            complete = False
            if img.format == "JPEG" and not full:
                img.fp.seek(-2, os.SEEK_END)
                complete = img.fp.read(2) == _JPEG_END
            if not complete:
                img.load()  # raises "image file is truncated" for a file cut short
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError) as err:
        raise _unreadable(path, err) from None


def _check_chunk(paths: list[str], full: bool) -> tuple[str, ValueError] | None:
    for path in paths:
        try:
            check_image(path, full)
        except ValueError as err:
            return path, err
    return None


def check_images(root: Path, paths: np.ndarray, full: bool = False, workers: int = 8) -> None:
    """`check_image` on every file (relative `paths` under `root`) in a thread pool; raise the error of
    the first bad file in index order."""
    files = [os.path.join(root, p.decode()) for p in paths]
    chunks = [files[i : i + _CHECK_CHUNK] for i in range(0, len(files), _CHECK_CHUNK)]
    with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
        for bad in pool.map(lambda chunk: _check_chunk(chunk, full), chunks):
            if bad is not None:
                pool.shutdown(wait=False, cancel_futures=True)
                raise bad[1]


def index_imagenet(
    root: Path,
    train_per_class: int = 0,
    val_per_class: int = 0,
    full_check: bool = False,
    workers: int = 8,
) -> PreparedData:
    """Scan and check the image-folder tree under `root`; return its index as streaming `PreparedData`.

    Args:
        root: Folder holding `train/<wnid>/` and `val/<wnid>/` (module docstring).
        train_per_class: If > 0, index only the first k training images of each class (name order).
        val_per_class: The same for the validation split.
        full_check: Decode every indexed image completely (slow: about as long as one epoch of
            decoding) instead of the header and end-marker check.
        workers: Threads that check files in parallel.

    Returns:
        `PreparedData` with int64 labels `y_train`, `y_test` (val), empty `x_train`, `x_test` and
        `stream` holding `root` (as given), the class folders and the relative paths.

    Raises:
        FileNotFoundError: `root`, a split folder or a class folder of one split is missing (named).
        ValueError: A flat val folder, no class folders, a class without images or with fewer than the
            requested subset, or an unreadable image (named).
    """
    root = Path(root)
    classes = _class_folders(root)
    train, y_train = _list_split(root, "train", classes, train_per_class)
    val, y_val = _list_split(root, "val", classes, val_per_class)
    for paths in (train, val):
        check_images(root, paths, full_check, workers)
    info = DatasetInfo(
        "imagenet", "ImageNet", "static", len(classes), 3, INPUT_SIZE, mean=IMAGENET_MEAN, std=IMAGENET_STD
    )
    index = ImageFolderIndex(str(root), tuple(classes), train, val)
    empty = np.zeros(0, dtype=np.uint8)
    return PreparedData(info, empty, y_train, empty, y_val, index)


def first_k_per_class(labels: np.ndarray, k: int) -> np.ndarray:
    """Sorted indices of the first `k` samples (fewer where a class has fewer) of each class."""
    by_class = np.argsort(labels, kind="stable")
    sorted_labels = labels[by_class]
    rank = np.arange(len(labels)) - np.searchsorted(sorted_labels, sorted_labels, side="left")
    return np.sort(by_class[rank < k])


# ------------------------------------------------------------------------------------------- the feed


def _transforms(augment: bool):
    from torchvision.transforms import v2

    if augment:
        steps = [v2.RandomResizedCrop(INPUT_SIZE, antialias=True), v2.RandomHorizontalFlip()]
    else:
        steps = [v2.Resize(RESIZE, antialias=True), v2.CenterCrop(INPUT_SIZE)]
    return v2.Compose([*steps, v2.PILToTensor()])


class _ImageBatches(torch.utils.data.Dataset):
    """Item = array of sample indices -> `(uint8 [k, 3, 224, 224], int64 [k])`, decoded with Pillow.

    With `augment`, sample i's random crop and flip are drawn from torch's CPU generator seeded with
    `seed + i` inside `fork_rng`, so they depend only on the pass seed and the sample, not on which
    worker (or the main process) decodes it, and the caller's global random state is left untouched.
    """

    def __init__(self, root: str, paths: np.ndarray, labels: np.ndarray, augment: bool, seed: int):
        self.root, self.paths, self.labels = root, paths, labels
        self.augment, self.seed = augment, seed
        self.transform = _transforms(augment)

    def __len__(self) -> int:
        return len(self.paths)

    def _load(self, i: int) -> torch.Tensor:
        path = os.path.join(self.root, self.paths[i].decode())
        try:
            with Image.open(path) as img:
                rgb = img.convert("RGB")
        except (OSError, SyntaxError, ValueError, Image.DecompressionBombError) as err:
            raise _unreadable(path, err) from None
        if not self.augment:
            return self.transform(rgb)
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(self.seed + i)
            return self.transform(rgb)

    def __getitem__(self, indices: np.ndarray) -> tuple[torch.Tensor, torch.Tensor]:
        images = [self._load(int(i)) for i in indices]
        x = torch.stack(images) if images else torch.empty((0, 3, INPUT_SIZE, INPUT_SIZE), dtype=torch.uint8)
        return x, torch.from_numpy(self.labels[indices])


class ImageFolderFeed:
    """A `Feed` over image files: one DataLoader per pass, `workers` decoding processes.

    `batches(generator)`: the order is `torch.randperm(n, generator=generator)` (None: in order), then
    one number is drawn from `generator` to seed the pass's augmentation (used only when `train`). Each
    global batch of `batch_size` is split like `Shard.take` and this process decodes only its part.
    """

    def __init__(
        self,
        root: str,
        paths: np.ndarray,
        labels: np.ndarray,
        batch_size: int,
        train: bool,
        device: str = "cpu",
        shard: Shard = Shard(),
        workers: int = 4,
    ):
        self.root, self.paths, self.labels = root, paths, labels
        self.batch_size, self.train, self.device = batch_size, train, device
        self.shard, self.workers = shard, workers

    def __len__(self) -> int:
        return -(-len(self.labels) // self.batch_size)

    def batches(
        self, generator: torch.Generator | None = None
    ) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        n = len(self.labels)
        if generator is not None:
            order = torch.randperm(n, generator=generator)
            seed = int(torch.randint(0, 2**62, (), generator=generator))
        else:
            order, seed = torch.arange(n), 0
        starts = range(0, n, self.batch_size)
        parts = [self.shard.take(order[s : s + self.batch_size])[0].numpy() for s in starts]
        augment = self.train and generator is not None
        dataset = _ImageBatches(self.root, self.paths, self.labels, augment, seed)
        loader = torch.utils.data.DataLoader(
            dataset,
            batch_size=None,  # each sampler item is already a batch of indices
            sampler=parts,
            num_workers=self.workers,
            pin_memory=str(self.device).startswith("cuda") and torch.cuda.is_available(),
            persistent_workers=False,
            generator=torch.Generator().manual_seed(seed),  # the loader's own draw leaves global state alone
        )
        for xb, yb in loader:
            yield xb.to(self.device, non_blocking=True), yb.to(self.device, non_blocking=True)


def imagenet_feed(
    data: PreparedData,
    split: str,
    batch_size: int,
    train: bool,
    device: str,
    shard: Shard = Shard(),
    workers: int = 4,
    limit_per_class: int = 0,
) -> ImageFolderFeed:
    """A `Feed` over one split of a streamed image-folder dataset (`load_prepared` of the data stage).

    Args:
        data: Prepared data with `stream` set.
        split: "train", "val" (ImageNet's val folder, this project's test set) or "validation" (the
            training images the data stage set aside; labels `data.y_train`, `data.y_test`, `data.y_val`).
        batch_size: Global batch size (each process of a `shard` gets its slice of every batch).
        train: Training transform (RandomResizedCrop(224) + flip) on shuffled passes; False: always the
            evaluation transform (Resize(256) + CenterCrop(224)). An unshuffled pass
            (`batches(None)`) always uses the evaluation transform.
        device: Where batches go (`pin_memory` on CUDA).
        shard: This process's part of each global batch.
        workers: DataLoader worker processes (0 = decode in this process).
        limit_per_class: If > 0, only the first k images of each class (index order), e.g. for the
            training-set calibration outputs of SNNCutoff.

    Returns:
        An `ImageFolderFeed`; its `labels` are the labels of the kept samples in index order.
    """
    if data.stream is None:
        raise ValueError(f"{data.info.name} is not a streamed image-folder dataset (no index.npz)")
    if split not in SPLITS:
        raise ValueError(f"split must be one of {', '.join(SPLITS)}, got {split!r}")
    paths, labels = {
        "train": (data.stream.train, data.y_train),
        "val": (data.stream.val, data.y_test),
        "validation": (data.stream.validation, data.y_val),
    }[split]
    if paths is None:
        raise ValueError(
            f"{data.info.name} has no validation split: set data.{data.info.name}.val_fraction > 0"
        )
    if limit_per_class:
        keep = first_k_per_class(labels, limit_per_class)
        paths, labels = paths[keep], labels[keep]
    return ImageFolderFeed(data.stream.root, paths, labels, batch_size, train, device, shard, workers)
