"""The prepared-dataset format every data builder writes and every training stage reads.

`<folder>/prepared.npz` holds `x_train, y_train, x_test, y_test`, `x_val, y_val` when the data stage sets
part of the training split aside as validation data (never trained on; operating points are chosen there)
and `x_holdout, y_holdout` when it holds part out for SEENN-II's policy (never used to train an SNN), and
`<folder>/info.json` the metadata.
Static images are `[N, C, H, W]`, float32 in [0, 1] (small embedded data) or uint8 with a per-channel
mean/std (CIFAR: a quarter of the memory; normalised batch by batch); event data is
`[N, frames, 2, H, W]` event counts.

Data too large for memory (ImageNet) are streamed from an image folder instead: `<folder>/index.npz`
holds each split's file paths (relative to the image root) and labels, and `info.json` carries a
`stream` entry with the root and the class folders. `load_prepared` then returns `PreparedData` with the
real labels, `x_train`, `x_test` empty (shape `[0]`) and `stream` set; `pipeline.data.imagenet` reads it.
"""

import json
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch

from pipeline.core.atomic import write_atomic, write_text_atomic


@dataclass(frozen=True)
class DatasetInfo:
    name: str  # registry name, e.g. "digits"
    label: str  # how tables and figures name it, e.g. "digits-dvs (simulated)"
    kind: str  # "static" (image repeated every step) or "event" (one frame per step)
    num_classes: int
    in_channels: int
    input_size: int  # height = width
    frames: int = 0  # event data: time bins per sample; 0 for static images
    simulated: bool = False  # True for simulated event data (never presented as real recordings)
    mean: tuple[float, ...] | None = None  # per-channel mean of uint8 images scaled to [0, 1]
    std: tuple[float, ...] | None = None  # per-channel std, for the same normalisation


@dataclass(frozen=True)
class ImageFolderIndex:
    """Images that stay on disk: `root` (as given in params; a relative root is relative to the working
    directory of the stage, the project root under DVC), the sorted class folder names (label = position)
    and each split's file paths relative to `root`, UTF-8 bytes (`numpy` "S" arrays: compact, and shared
    rather than copied by forked data-loader workers)."""

    root: str
    classes: tuple[str, ...]
    train: np.ndarray  # [N] bytes, e.g. b"train/n01440764/n01440764_10026.JPEG"
    val: np.ndarray  # [M] bytes, e.g. b"val/n01440764/ILSVRC2012_val_00000293.JPEG" (this project's test set)
    validation: np.ndarray | None = None  # [V] bytes: training-folder images set aside as validation data


@dataclass(frozen=True)
class PreparedData:
    info: DatasetInfo
    x_train: np.ndarray  # in-memory samples; empty (shape [0]) for streamed data
    y_train: np.ndarray  # [N] int64
    x_test: np.ndarray
    y_test: np.ndarray  # [N] int64
    stream: ImageFolderIndex | None = None  # set for data streamed from an image folder (ImageNet)
    x_holdout: np.ndarray | None = None  # held-out part of the training split, never used to train an SNN
    y_holdout: np.ndarray | None = None  # [M] int64 (None: no held-out split)
    x_val: np.ndarray | None = None  # validation part of the training split, never trained on
    y_val: np.ndarray | None = None  # [V] int64 (None: no validation split)

    def sample_shape(self) -> tuple[int, ...]:
        """One input's shape: the stored arrays', or for streamed data the crops the feed produces."""
        if self.stream is None:
            return tuple(self.x_train.shape[1:])
        return (self.info.in_channels, self.info.input_size, self.info.input_size)


STREAM_INDEX = "index.npz"


def save_prepared(data: PreparedData, folder: Path) -> None:
    """Arrays first, `info.json` last: `info.json` says which format the folder holds (both atomic)."""
    fields = asdict(data.info)
    if data.stream is None:
        arrays = dict(x_train=data.x_train, y_train=data.y_train, x_test=data.x_test, y_test=data.y_test)
        if data.y_holdout is not None:
            arrays.update(x_holdout=data.x_holdout, y_holdout=data.y_holdout)
        if data.y_val is not None:
            arrays.update(x_val=data.x_val, y_val=data.y_val)
        write_atomic(folder / "prepared.npz", lambda tmp: np.savez(tmp, **arrays))
    else:
        s = data.stream
        arrays = dict(train_paths=s.train, y_train=data.y_train, val_paths=s.val, y_test=data.y_test)
        if s.validation is not None:
            arrays.update(validation_paths=s.validation, y_val=data.y_val)
        write_atomic(folder / STREAM_INDEX, lambda tmp: np.savez_compressed(tmp, **arrays))
        fields["stream"] = dict(root=s.root, index=STREAM_INDEX, classes=list(s.classes))
    write_text_atomic(folder / "info.json", json.dumps(fields, indent=2) + "\n")


def _missing(path: Path) -> FileNotFoundError:
    return FileNotFoundError(f"{path} is missing: run the data stage first (dvc repro data)")


def load_prepared(folder: Path) -> PreparedData:
    if not (folder / "info.json").is_file():
        raise _missing(folder / "info.json")
    fields = json.loads((folder / "info.json").read_text())
    stream = fields.pop("stream", None)
    for key in ("mean", "std"):
        if fields.get(key) is not None:
            fields[key] = tuple(fields[key])
    info = DatasetInfo(**fields)
    arrays = folder / ("prepared.npz" if stream is None else stream["index"])
    if not arrays.is_file():
        raise _missing(arrays)
    with np.load(arrays) as z:
        if stream is None:
            held = (z["x_holdout"], z["y_holdout"]) if "y_holdout" in z.files else (None, None)
            val = (z["x_val"], z["y_val"]) if "y_val" in z.files else (None, None)
            return PreparedData(info, z["x_train"], z["y_train"], z["x_test"], z["y_test"], None, *held, *val)
        validation = (z["validation_paths"], z["y_val"]) if "y_val" in z.files else (None, None)
        index = ImageFolderIndex(
            stream["root"], tuple(stream["classes"]), z["train_paths"], z["val_paths"], validation[0]
        )
        empty = np.zeros(0, dtype=np.uint8)
        return PreparedData(info, empty, z["y_train"], empty, z["y_test"], index, y_val=validation[1])


def to_sequence(x: torch.Tensor, info: DatasetInfo, timesteps: int) -> torch.Tensor:
    """Model input `[T, N, C, H, W]` from a batch: static images are fed at every step (direct
    encoding); event data supplies its first `timesteps` frames, one per step. uint8 images are scaled
    to [0, 1] and normalised with the dataset's mean and std here, after augmentation."""
    if x.dtype == torch.uint8:
        x = x.float() / 255.0
        if info.mean is not None and info.std is not None:
            mean = torch.tensor(info.mean, device=x.device).view(-1, 1, 1)
            std = torch.tensor(info.std, device=x.device).view(-1, 1, 1)
            x = (x - mean) / std
    if info.kind == "static":
        return x.unsqueeze(0).expand(timesteps, *x.shape)
    return x[:, :timesteps].transpose(0, 1)


def example_input(info: DatasetInfo) -> torch.Tensor:
    """A zero input of the dataset's shape (`[1, C, H, W]` uint8 image or `[1, frames, 2, H, W]` events),
    for counting MACs, which do not depend on the values."""
    if info.kind == "static":
        return torch.zeros((1, info.in_channels, info.input_size, info.input_size), dtype=torch.uint8)
    return torch.zeros((1, info.frames, info.in_channels, info.input_size, info.input_size))
