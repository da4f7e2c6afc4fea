"""The `data` section of params.yaml: one dataclass per dataset, each field a `rule`."""

from dataclasses import dataclass, field

from pipeline.core.rules import rule


def holdout_rule():
    """`data.<dataset>.holdout_fraction`, the same for every in-memory dataset."""
    return rule(
        "share of the training split held out, stratified and seeded, never used to train an SNN: SEENN-II's "
        "policy data (seenn2.policy_data: holdout) and checkpoint selection (select: best_holdout)",
        low=0,
        high=1,
        high_open=True,
        default=0.0,
    )


def val_rule(default: float = 0.1):
    """`data.<dataset>.val_fraction`, the same for every in-memory dataset."""
    return rule(
        "share of the training split set aside as validation data, stratified and seeded, never trained on: "
        "every run saves its outputs there, and the exit-policy comparison chooses its operating points "
        "on them (never on the test set)",
        low=0,
        high=1,
        high_open=True,
        default=default,
    )


@dataclass(frozen=True)
class DigitsData:
    test_fraction: float = rule(
        "share of the 1,797 images held out for test",
        low=0,
        high=1,
        low_open=True,
        high_open=True,
        default=0.3,
    )
    holdout_fraction: float = holdout_rule()
    val_fraction: float = val_rule()


@dataclass(frozen=True)
class DigitsDvsData:
    test_fraction: float = rule(
        "share held out for test", low=0, high=1, low_open=True, high_open=True, default=0.3
    )
    frames: int = rule("time bins per sample (the event SNN's T)", low=1, default=8)
    threshold: float = rule("DVS contrast threshold on log intensity", low=0, low_open=True, default=0.15)
    upsample: int = rule("image upsampling before the saccade", low=1, high=8, default=2)
    saccade_steps: int = rule("fine simulation steps along the saccade", low=1, default=60)
    holdout_fraction: float = holdout_rule()
    val_fraction: float = val_rule()


@dataclass(frozen=True)
class CifarData:
    root: str = rule(
        "local copy: torchvision's layout, or train/<class>/* and test/<class>/*", default="datasets/cifar10"
    )
    download: bool = rule(
        "download with torchvision (checksum-verified) when root holds nothing", default=False
    )
    subset_per_class: int = rule("keep the first k training images of each class (0 = all)", low=0, default=0)
    test_subset_per_class: int = rule(
        "keep the first k test images of each class (0 = all)", low=0, default=0
    )
    holdout_fraction: float = holdout_rule()
    val_fraction: float = val_rule()


@dataclass(frozen=True)
class Cifar10DvsData:
    root: str = rule("local copy of the recordings: <class>/*.aedat", default="datasets/cifar10_dvs")
    frames: int = rule("frames per recording (the SNN's T)", low=1, default=10)
    size: int = rule("frame side after resizing from 128", low=8, high=128, default=48)
    subset_per_class: int = rule("keep k recordings of each class and split (0 = all)", low=0, default=0)
    train_per_class: int = rule(
        "first recordings of each class used for training (by file name)", low=1, default=900
    )
    holdout_fraction: float = holdout_rule()
    val_fraction: float = val_rule()


@dataclass(frozen=True)
class ImageNetData:
    root: str = rule(
        "local image-folder tree: train/<wnid>/*.JPEG and val/<wnid>/*.JPEG (never downloaded)",
        default="datasets/imagenet",
    )
    train_subset_per_class: int = rule(
        "index only the first k training images of each class (0 = all)", low=0, default=0
    )
    val_subset_per_class: int = rule(
        "index only the first k validation images of each class (0 = all)", low=0, default=0
    )
    full_check: bool = rule(
        "data stage decodes every image instead of the header + end-marker check (slow)", default=False
    )
    workers: int = rule(
        "threads checking files in the data stage; DataLoader worker processes when training",
        low=0,
        default=8,
    )
    calibration_per_class: int = rule(
        "training images per class in SNNCutoff's calibration outputs (0 = all)", low=0, default=10
    )
    val_fraction: float = val_rule(0.01)  # ~12,800 of ImageNet's training images


@dataclass(frozen=True)
class DataParams:
    """One section per dataset; dvc.yaml prepares each dataset named here (foreach over `data`)."""

    digits: DigitsData = field(default_factory=DigitsData)
    digits_dvs: DigitsDvsData = field(default_factory=DigitsDvsData)
    cifar10: CifarData = field(default_factory=CifarData)
    cifar100: CifarData = field(default_factory=lambda: CifarData(root="datasets/cifar100"))
    cifar10_dvs: Cifar10DvsData = field(default_factory=Cifar10DvsData)
    imagenet: ImageNetData = field(default_factory=ImageNetData)
