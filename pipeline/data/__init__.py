"""Dataset builders by name: each returns a `PreparedData` ready to be saved by the data stage."""

import dataclasses
import math
from pathlib import Path

import numpy as np

from pipeline.core.config import (
    CifarData,
    Cifar10DvsData,
    DataParams,
    DigitsData,
    DigitsDvsData,
    ImageNetData,
)
from pipeline.core.errors import StageError
from pipeline.data.prepared import DatasetInfo, PreparedData
from pipeline.core.registry import Registry

DATASETS: Registry = Registry("dataset")


@DATASETS.register("digits")
def prepare_digits(config: DigitsData, seed: int) -> PreparedData:
    """scikit-learn's 1,797 real 8x8 digits, a seeded stratified split, `[N, 1, 8, 8]` in [0, 1]."""
    from pipeline.data.digits import load_digits_split

    x_train, y_train, x_test, y_test = load_digits_split(config.test_fraction, seed)
    info = DatasetInfo("digits", "digits (sklearn 8x8)", "static", 10, 1, 8)
    return PreparedData(info, x_train, y_train, x_test, y_test)


@DATASETS.register("digits_dvs")
def prepare_digits_dvs(config: DigitsDvsData, seed: int) -> PreparedData:
    """The same split turned into simulated DVS recordings, `[N, frames, 2, H, W]` event counts."""
    from pipeline.data.digits import load_digits_split
    from pipeline.data.digits_dvs import simulate_events

    x_train, y_train, x_test, y_test = load_digits_split(config.test_fraction, seed)

    def events(images, offset):
        return simulate_events(
            images,
            frames=config.frames,
            threshold=config.threshold,
            upsample=config.upsample,
            saccade_steps=config.saccade_steps,
            seed=seed + offset,
        )

    ev_train, ev_test = events(x_train, 0), events(x_test, 1)
    info = DatasetInfo(
        "digits_dvs", "digits-dvs (simulated events)", "event", 10, 2, ev_train.shape[-1], config.frames, True
    )
    return PreparedData(info, ev_train, y_train, ev_test, y_test)


def _prepare_cifar(name: str, label: str, num_classes: int):
    def prepare(config: CifarData, seed: int) -> PreparedData:
        """CIFAR as uint8 `[N, 3, 32, 32]` (normalised per batch with the released code's mean/std);
        the official train/test split, so `seed` is unused."""
        from pipeline.data.cifar import CIFAR_MEAN_STD, load_cifar

        x_train, y_train, x_test, y_test = load_cifar(
            name, Path(config.root), config.download, config.subset_per_class, config.test_subset_per_class
        )
        mean, std = CIFAR_MEAN_STD[name]
        info = DatasetInfo(name, label, "static", num_classes, 3, 32, mean=tuple(mean), std=tuple(std))
        return PreparedData(info, x_train, y_train, x_test, y_test)

    return prepare


DATASETS.register("cifar10")(_prepare_cifar("cifar10", "CIFAR-10", 10))
DATASETS.register("cifar100")(_prepare_cifar("cifar100", "CIFAR-100", 100))


@DATASETS.register("cifar10_dvs")
def prepare_cifar10_dvs(config: Cifar10DvsData, seed: int) -> PreparedData:
    """CIFAR10-DVS recordings as `[N, frames, 2, size, size]`, a fixed per-class split by file name."""
    from pipeline.data.cifar10_dvs import load_cifar10_dvs

    x_train, y_train, x_test, y_test = load_cifar10_dvs(
        Path(config.root), config.frames, config.size, config.subset_per_class, config.train_per_class
    )
    info = DatasetInfo("cifar10_dvs", "CIFAR10-DVS", "event", 10, 2, config.size, config.frames, False)
    return PreparedData(info, x_train, y_train, x_test, y_test)


@DATASETS.register("imagenet")
def prepare_imagenet(config: ImageNetData, seed: int) -> PreparedData:
    """A checked index of the local image-folder tree `root/train/<wnid>/*`, `root/val/<wnid>/*`: the
    images stay on disk and are streamed by `pipeline.data.imagenet.imagenet_feed`; `seed` is unused."""
    from pipeline.data.imagenet import index_imagenet

    return index_imagenet(
        Path(config.root),
        train_per_class=config.train_subset_per_class,
        val_per_class=config.val_subset_per_class,
        full_check=config.full_check,
        workers=config.workers,
    )


def prepare_dataset(name: str, params: DataParams, seed: int) -> PreparedData:
    """Build dataset `name` from its params section; a missing, corrupt or unsupported source becomes one
    `StageError` line that names the dataset."""
    config = getattr(params, name)
    try:
        prepared = DATASETS.get(name)(config, seed)
    except (FileNotFoundError, ValueError, RuntimeError, NotImplementedError) as err:
        raise StageError(f"data {name}: {err}") from err
    validated = set_aside(prepared, getattr(config, "val_fraction", 0.0), seed, "val")
    return set_aside(validated, getattr(config, "holdout_fraction", 0.0), seed, "holdout")


def set_aside(data: PreparedData, fraction: float, seed: int, split: str) -> PreparedData:
    """Move a stratified, seeded `fraction` of the training split into `split`: "val" (validation data,
    where operating points are chosen) or "holdout" (SEENN-II's policy data); in-memory data only, the kept
    training samples stay in their original order. The validation split is taken first, so a held-out
    split never changes which images validate."""
    if fraction <= 0:
        return data
    if data.stream is not None and split != "val":
        raise StageError(f"data {data.info.name}: a {split} split needs in-memory data, not a stream")
    from sklearn.model_selection import train_test_split

    index = np.arange(len(data.y_train))
    # at least one input of every class (tiny subsets), else the nearest count to `fraction`
    size = max(math.ceil(fraction * len(index)), len(np.unique(data.y_train)))
    try:
        keep, held = train_test_split(index, test_size=size, stratify=data.y_train, random_state=seed)
    except ValueError as err:
        name = "val_fraction" if split == "val" else "holdout_fraction"
        raise StageError(
            f"data {data.info.name}: {name} = {fraction} cannot be split by class: {err}"
        ) from err
    keep, held = np.sort(keep), np.sort(held)
    if data.stream is not None:  # streamed (ImageNet): the index's training paths are split instead
        stream = dataclasses.replace(
            data.stream, train=data.stream.train[keep], validation=data.stream.train[held]
        )
        return dataclasses.replace(data, stream=stream, y_train=data.y_train[keep], y_val=data.y_train[held])
    return dataclasses.replace(
        data,
        x_train=data.x_train[keep],
        y_train=data.y_train[keep],
        **{f"x_{split}": data.x_train[held], f"y_{split}": data.y_train[held]},
    )


def hold_out(data: PreparedData, fraction: float, seed: int) -> PreparedData:
    """`set_aside` into the held-out split."""
    return set_aside(data, fraction, seed, "holdout")
