"""CIFAR-10 and CIFAR-100 from a local copy, verified before use, as `uint8 [N, 3, 32, 32]` arrays.

Two on-disk layouts are accepted under one `root` folder, tried in this order:

1. torchvision's: `root/cifar-10-batches-py/` or `root/cifar-100-python/` (the extracted python-version
   archives from https://www.cs.toronto.edu/~kriz/cifar.html). Every batch file's md5 is checked first,
   so a missing, truncated or corrupt file is named in a one-line error (torchvision itself only says
   "Dataset not found or corrupted").
2. An image folder tree: `root/train/<class>/*` and `root/test/<class>/*`, any format Pillow reads,
   32x32 pixels. Class index = position of the folder name in the sorted list of class folders; with
   the official class names (e.g. `airplane ... truck`) that is the official label order, because both
   CIFAR label lists are alphabetical.

With neither present, `download=True` fetches torchvision's layout (torchvision checks the archive's
md5); otherwise a one-line FileNotFoundError says where to put the files.
"""

import os
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
from PIL import Image

# torchvision's class names for CIFAR-10, in label order (alphabetical, so sorted folder names agree).
CIFAR10_CLASSES = (
    "airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck",
)  # fmt: skip

# Per-channel mean and std of the training images in [0, 1], as the released SEENN / TET code
# normalises. The CIFAR-10 std is the widely copied (0.2023, 0.1994, 0.2010), an average of per-image
# stds; the pixel std over the whole set is (0.2470, 0.2435, 0.2616). Kept for fidelity: it only
# rescales the input of the first (analog) layer.
CIFAR_MEAN_STD: dict[str, tuple[tuple[float, ...], tuple[float, ...]]] = {
    "cifar10": ((0.4914, 0.4822, 0.4465), (0.2023, 0.1994, 0.2010)),
    "cifar100": ((0.5071, 0.4867, 0.4408), (0.2675, 0.2565, 0.2761)),
}

_NUM_CLASSES = {"cifar10": 10, "cifar100": 100}
_LABEL = {"cifar10": "CIFAR-10", "cifar100": "CIFAR-100"}
_TORCHVISION_FOLDER = {"cifar10": "cifar-10-batches-py", "cifar100": "cifar-100-python"}
_SIZE = 32  # CIFAR images are 32x32 pixels
_MAX_DECODE_THREADS = 8  # decoding a 32x32 image is mostly Python overhead: more threads add little


def _torchvision_class(name: str) -> type:
    from torchvision.datasets import CIFAR10, CIFAR100

    return CIFAR10 if name == "cifar10" else CIFAR100


def _missing_message(name: str, root: Path) -> str:
    return (
        f"{_LABEL[name]} not found under {root}: put torchvision's {root / _TORCHVISION_FOLDER[name]}/ "
        f"there (the extracted python-version archive from https://www.cs.toronto.edu/~kriz/cifar.html) "
        f"or an image-folder tree {root}/train/<class>/*.png and {root}/test/<class>/*.png "
        f"({_NUM_CLASSES[name]} class folders per split, 32x32 images), or pass download=True"
    )


def _first_line(err: BaseException) -> str:
    text = str(err).strip()
    return text.splitlines()[0] if text else type(err).__name__


def _check_count(value: int, what: str) -> None:
    if not isinstance(value, (int, np.integer)) or isinstance(value, bool) or value < 0:
        raise ValueError(f"{what} must be an integer >= 0 (0 keeps everything), got {value!r}")


def first_per_class(labels: np.ndarray, k: int, num_classes: int, where: str) -> np.ndarray:
    """Indices of the first `k` samples of each class, in their original order (stratified subset).

    Args:
        labels: `[N]` integer class labels in `0..num_classes - 1`.
        k: Samples to keep per class, >= 1.
        num_classes: Number of classes that must each have at least `k` samples.
        where: Name of the split for the error message.

    Returns:
        `[num_classes * k]` sorted int64 indices into `labels`.

    Raises:
        ValueError: If a class has fewer than `k` samples.
    """
    counts = np.bincount(labels, minlength=num_classes)
    if counts.min() < k:
        c = int(np.argmin(counts))
        raise ValueError(
            f"{where}: class {c} has {counts[c]} samples, fewer than the {k} requested per class"
        )
    keep = [np.flatnonzero(labels == c)[:k] for c in range(num_classes)]
    return np.sort(np.concatenate(keep)).astype(np.int64)


# ------------------------------------------------------------------------------------ torchvision layout


def _verify_torchvision_files(name: str, root: Path) -> None:
    """md5-check every file torchvision will read, naming the first bad one."""
    from torchvision.datasets.utils import check_integrity

    cls = _torchvision_class(name)
    folder = root / cls.base_folder
    files = cls.train_list + cls.test_list + [[cls.meta["filename"], cls.meta["md5"]]]
    for filename, md5 in files:
        path = folder / filename
        if not path.is_file():
            raise FileNotFoundError(
                f"{path} is missing: {folder}/ must hold {', '.join(f for f, _ in files)} "
                f"(the extracted python-version archive from https://www.cs.toronto.edu/~kriz/cifar.html)"
            )
        if not check_integrity(str(path), md5):
            raise ValueError(
                f"{path} is corrupt or cut short ({path.stat().st_size} bytes; md5 differs from {md5}): "
                f"extract it again from {cls.filename}"
            )


def _load_torchvision(name: str, root: Path, download: bool) -> tuple[np.ndarray, ...]:
    cls = _torchvision_class(name)
    if download:
        try:
            cls(str(root), train=True, download=True)  # fetches and md5-checks the archive once
        except Exception as err:  # no network, disk full, bad archive: one line, not a traceback
            raise RuntimeError(
                f"downloading {_LABEL[name]} into {root} failed ({_first_line(err)}): "
                f"{_missing_message(name, root)}"
            ) from None
    _verify_torchvision_files(name, root)
    arrays = []
    for train in (True, False):
        ds = cls(str(root), train=train, download=False)
        x = np.ascontiguousarray(ds.data.transpose(0, 3, 1, 2))  # [N, 32, 32, 3] -> [N, 3, 32, 32]
        arrays += [x, np.asarray(ds.targets, dtype=np.int64)]
    return tuple(arrays)


# ----------------------------------------------------------------------------------- image-folder layout


def _class_folders(split_dir: Path) -> list[str]:
    return sorted(p.name for p in split_dir.iterdir() if p.is_dir() and not p.name.startswith("."))


def _check_classes(name: str, train_dir: Path, test_dir: Path) -> list[str]:
    """Sorted class names, after checking both splits hold the same, right number of class folders."""
    expected = _NUM_CLASSES[name]
    found = {d: _class_folders(d) for d in (train_dir, test_dir)}
    union = sorted(set(found[train_dir]) | set(found[test_dir]))
    for split_dir, other in ((train_dir, test_dir), (test_dir, train_dir)):
        for cls in union:
            if cls not in found[split_dir]:
                raise FileNotFoundError(
                    f"{split_dir / cls} is missing: class {cls!r} has a folder in {other} but not here"
                )
    if len(union) != expected:
        missing = ""
        if name == "cifar10" and set(union) < set(CIFAR10_CLASSES):
            missing = f"; missing: {', '.join(c for c in CIFAR10_CLASSES if c not in union)}"
        raise FileNotFoundError(
            f"{train_dir} holds {len(union)} class folders, expected {expected} for {name} "
            f"(one folder per class in both train/ and test/){missing}"
        )
    return union


def _list_images(class_dir: Path, k: int) -> list[Path]:
    files = sorted(p for p in class_dir.iterdir() if p.is_file() and not p.name.startswith("."))
    if not files:
        raise ValueError(f"{class_dir} holds no image files, expected 32x32 images of this class")
    if k and len(files) < k:
        raise ValueError(f"{class_dir} holds {len(files)} images, fewer than the {k} requested per class")
    return files[:k] if k else files


def read_image(path: Path) -> np.ndarray:
    """Decode one 32x32 image file to `uint8 [32, 32, 3]` RGB (grey or palette images are converted).

    Raises:
        ValueError: If Pillow cannot read the whole file or the image is not 32x32.
    """
    try:
        with Image.open(path) as img:
            if img.size != (_SIZE, _SIZE):
                raise ValueError(f"{path} is {img.size[0]}x{img.size[1]} pixels, expected {_SIZE}x{_SIZE}")
            img.load()  # `open` only reads the header: decode now so a truncated file fails here
            return np.asarray(img.convert("RGB"))
    except (OSError, SyntaxError, Image.DecompressionBombError) as err:
        # UnidentifiedImageError (not an image) and "image file is truncated" are OSErrors.
        raise ValueError(f"{path} is not a readable image ({_first_line(err)})") from None


def _decode_all(paths: list[Path]) -> np.ndarray:
    """`uint8 [N, 3, 32, 32]` from image files, decoded in a thread pool (file reads overlap)."""
    workers = max(1, min(_MAX_DECODE_THREADS, os.cpu_count() or 1))
    with ThreadPoolExecutor(max_workers=workers) as pool:
        images = list(pool.map(read_image, paths, chunksize=64))  # raises the first failure in order
    return np.stack(images).transpose(0, 3, 1, 2).copy()  # [N, 32, 32, 3] -> [N, 3, 32, 32]


def _load_image_folders(name: str, root: Path, k_train: int, k_test: int) -> tuple[np.ndarray, ...]:
    train_dir, test_dir = root / "train", root / "test"
    for split_dir in (train_dir, test_dir):
        if not split_dir.is_dir():
            raise FileNotFoundError(
                f"{split_dir} is missing: the image-folder layout needs both {train_dir}/<class>/ "
                f"and {test_dir}/<class>/"
            )
    classes = _check_classes(name, train_dir, test_dir)
    arrays = []
    for split_dir, k in ((train_dir, k_train), (test_dir, k_test)):
        # Only the kept files are decoded, so a subset costs time in proportion to its size.
        per_class = [_list_images(split_dir / cls, k) for cls in classes]
        labels = np.concatenate([np.full(len(f), c, dtype=np.int64) for c, f in enumerate(per_class)])
        arrays += [_decode_all([p for files in per_class for p in files]), labels]
    return tuple(arrays)


# ------------------------------------------------------------------------------------------- entry point


def load_cifar(
    name: str,
    root: Path,
    download: bool = False,
    subset_per_class: int = 0,
    test_subset_per_class: int = 0,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Load CIFAR-10 or CIFAR-100 from `root` (layouts in the module docstring), verified.

    Args:
        name: "cifar10" or "cifar100".
        root: Folder holding torchvision's extracted batches or a `train/`, `test/` image-folder tree.
        download: Fetch torchvision's layout into `root` when neither layout is present.
        subset_per_class: If > 0, keep only the first k training images of each class (file-name order
            in an image-folder tree, file order in torchvision's batches): a deterministic, stratified
            subset for smoke runs. 0 keeps all.
        test_subset_per_class: The same for the test split.

    Returns:
        `x_train [N, 3, 32, 32]`, `y_train [N]`, `x_test [M, 3, 32, 32]`, `y_test [M]`; images uint8
        0..255 RGB, labels int64 in `0..C - 1`. Image-folder trees come grouped by class, torchvision's
        layout in its original order.

    Raises:
        ValueError: Unknown name, bad subset size, or a corrupt / wrong-sized / unreadable file (named).
        FileNotFoundError: No data under `root` (the message says where to put it), or a missing file
            or folder (named).
        RuntimeError: `download=True` and the download failed.
    """
    if name not in _NUM_CLASSES:
        raise ValueError(f"unknown CIFAR variant {name!r}; known: {', '.join(_NUM_CLASSES)}")
    root = Path(root)
    has_torchvision = (root / _TORCHVISION_FOLDER[name]).is_dir()
    has_folders = (root / "train").is_dir() or (root / "test").is_dir()
    if not (has_torchvision or has_folders or download):
        raise FileNotFoundError(_missing_message(name, root))
    _check_count(subset_per_class, "subset_per_class")
    _check_count(test_subset_per_class, "test_subset_per_class")

    if has_folders and not has_torchvision:
        return _load_image_folders(name, root, subset_per_class, test_subset_per_class)
    x_train, y_train, x_test, y_test = _load_torchvision(name, root, download=not has_torchvision)
    classes = _NUM_CLASSES[name]
    if subset_per_class:
        keep = first_per_class(y_train, subset_per_class, classes, f"{name} train")
        x_train, y_train = x_train[keep], y_train[keep]
    if test_subset_per_class:
        keep = first_per_class(y_test, test_subset_per_class, classes, f"{name} test")
        x_test, y_test = x_test[keep], y_test[keep]
    return x_train, y_train, x_test, y_test
