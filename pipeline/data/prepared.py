"""The prepared-dataset format every data builder writes and every training stage reads.

`<folder>/prepared.npz` holds `x_train, y_train, x_test, y_test` and `<folder>/info.json` the metadata.
Static images are `[N, C, H, W]`, float32 in [0, 1] (small embedded data) or uint8 with a per-channel
mean/std (CIFAR: a quarter of the memory; normalised batch by batch); event data is
`[N, frames, 2, H, W]` event counts.
"""

import json
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch

from pipeline.atomic import write_atomic, write_text_atomic


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
class PreparedData:
    info: DatasetInfo
    x_train: np.ndarray
    y_train: np.ndarray  # [N] int64
    x_test: np.ndarray
    y_test: np.ndarray  # [N] int64


def save_prepared(data: PreparedData, folder: Path) -> None:
    arrays = dict(x_train=data.x_train, y_train=data.y_train, x_test=data.x_test, y_test=data.y_test)
    write_atomic(folder / "prepared.npz", lambda tmp: np.savez(tmp, **arrays))
    write_text_atomic(folder / "info.json", json.dumps(asdict(data.info), indent=2) + "\n")


def load_prepared(folder: Path) -> PreparedData:
    for name in ("prepared.npz", "info.json"):
        if not (folder / name).is_file():
            raise FileNotFoundError(f"{folder / name} is missing: run the data stage first (dvc repro data)")
    fields = json.loads((folder / "info.json").read_text())
    for key in ("mean", "std"):
        if fields.get(key) is not None:
            fields[key] = tuple(fields[key])
    info = DatasetInfo(**fields)
    with np.load(folder / "prepared.npz") as z:
        return PreparedData(info, z["x_train"], z["y_train"], z["x_test"], z["y_test"])


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
