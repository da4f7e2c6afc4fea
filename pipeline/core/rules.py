"""The vocabulary of params.yaml: allowed names (devices, datasets, models, surrogates, released layouts),
the one-line `ParamsError`, and `rule`, a dataclass field that carries its meaning and allowed values
(`pipeline.core.config` checks every value against it)."""

from dataclasses import MISSING, field

DEVICES = ("auto", "cpu", "cuda")
STATIC_DATASETS = ("digits", "cifar10", "cifar100", "imagenet")  # images fed at every step
EVENT_DATASETS = ("digits_dvs", "cifar10_dvs")  # one event frame per step (digits_dvs is simulated)
SURROGATE_NAMES = ("triangle", "dspike", "dspike_unit", "sigmoid")
MODEL_NAMES = (
    "resnet8",
    "resnet18",
    "resnet19",
    "resnet20",
    "resnet20_qcfs",
    "resnet34",
    "sew_resnet34",
    "vgg16",
    "vggsnn",
    "vggsnn_woap",
    "fastvgg",
)
# Which models have which architecture option (pipeline/snn/models; tests/snn/test_models.py checks these)
BASIC_RESNETS = ("resnet8", "resnet18", "resnet19", "resnet20", "resnet20_qcfs", "resnet34")  # `shortcut`
RESNETS = BASIC_RESNETS + ("sew_resnet34",)  # `stem`, `stem_pool`
IMAGENET_STEM_MODELS = ("resnet34", "sew_resnet34")  # `stem: auto` is the 7x7/2 + pooling stem
# Key layouts of the authors' released checkpoints that `seenn import-checkpoint` reads
# (pipeline/snn/released.py states what each needs; tests/snn/test_released.py checks the names agree)
RELEASED_LAYOUTS = (
    "qcfs_vgg16",
    "qcfs_resnet18",
    "qcfs_resnet20",
    "qcfs_resnet34",
    "seenn_qcfs_resnet20",
    "sew_resnet34",
)


class ParamsError(ValueError):
    """A bad value in params.yaml; the message is one line meant for the user."""


def rule(
    doc: str,
    *,
    low=None,
    high=None,
    low_open=False,
    high_open=False,
    choices=None,
    default=MISSING,
    empty_ok=False,
):
    """A dataclass field with a one-line meaning and its allowed values (`empty_ok`: a list key that may
    be `[]`; every other list key must name at least one item)."""
    meta = dict(doc=doc, low=low, high=high, low_open=low_open, high_open=high_open, choices=choices)
    if empty_ok:
        meta["empty_ok"] = True
    if isinstance(default, list):
        return field(default_factory=lambda: list(default), metadata=meta)
    return field(default=default, metadata=meta)
