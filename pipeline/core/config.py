"""Typed, validated params: the schema of params.yaml.

`parse_params(raw)` turns the loaded YAML into frozen dataclasses or raises `ParamsError` with one line
that names the key, the value and what is allowed. Each field's `metadata` states its rule; unknown keys
are refused with a did-you-mean suggestion. Stages call this before doing any work.
"""

import difflib
import math
import typing
from dataclasses import MISSING, asdict, dataclass, field, fields
from typing import Any

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


def rule(doc: str, *, low=None, high=None, low_open=False, high_open=False, choices=None, default=MISSING):
    """A dataclass field with a one-line meaning and its allowed values."""
    meta = dict(doc=doc, low=low, high=high, low_open=low_open, high_open=high_open, choices=choices)
    if isinstance(default, list):
        return field(default_factory=lambda: list(default), metadata=meta)
    return field(default=default, metadata=meta)


# --- sections ---------------------------------------------------------------------------------------
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


def _shortcut_rule():
    return rule(
        "ResNet downsampling shortcut: avgpool (AvgPool -> 1x1 conv -> BN, released ResNet-19) or conv "
        "(stride-2 1x1 conv -> BN, QCFS)",
        choices=("avgpool", "conv"),
        default="avgpool",
    )


def _stem_rule():
    return rule(
        "ResNet stem: auto (7x7/2 + pooling for resnet34 and sew_resnet34, else 3x3/1), imagenet or cifar "
        "(3x3/1, no pooling; QCFS's ImageNet ResNet-34)",
        choices=("auto", "imagenet", "cifar"),
        default="auto",
    )


def _stem_pool_rule():
    return rule(
        "pooling after an ImageNet stem: auto (max for sew_resnet34, as SEW-ResNet's code; avg otherwise), "
        "avg or max",
        choices=("auto", "avg", "max"),
        default="auto",
    )


def _vgg_head_rule():
    return rule(
        "VGG-16 classifier: gap (global pooling + one FC) or fc3 (QCFS: flatten, FC 4096, FC 4096, FC K)",
        choices=("gap", "fc3"),
        default="gap",
    )


@dataclass(frozen=True)
class TrainingParams:
    """Keys shared by every training run (SGD with momentum 0.9 and a cosine schedule)."""

    dataset: str = rule("prepared dataset", choices=STATIC_DATASETS + EVENT_DATASETS)
    model: str = rule("architecture (registry name)", choices=MODEL_NAMES)
    width: float = rule("channel multiplier of the paper's widths", low=0, high=4, low_open=True, default=1.0)
    T: int = rule("timesteps", low=1, high=1000, default=4)
    epochs: int = rule("training epochs", low=1, default=30)
    batch_size: int = rule("samples per SGD step", low=1, default=64)
    lr: float = rule("initial learning rate", low=0, low_open=True, default=0.1)
    weight_decay: float = rule("L2 weight decay", low=0, default=5e-4)
    shift: int = rule(
        "augmentation: random translation in pixels, zero fill (0 = none)", low=0, high=16, default=0
    )
    flip: bool = rule("augmentation: random horizontal flip", default=False)
    roll: int = rule(
        "augmentation: random circular shift in pixels (released CIFAR10-DVS recipe)",
        low=0,
        high=16,
        default=0,
    )
    cutout: int = rule("augmentation: Cutout square side in pixels (0 = none)", low=0, high=64, default=0)
    autoaugment: bool = rule("augmentation: torchvision AutoAugment, CIFAR-10 policy", default=False)
    rcs_weight: float = rule(
        "weight of SNNCutoff's RCS regulariser (0 = off; its paper: 0.001-0.005)", low=0, default=0.0
    )
    select: str = rule(
        "which epoch's weights a run keeps: last, or best_holdout (the best accuracy on the data stage's "
        "held-out split; the released code picks the best test epoch, selection on the test set, never "
        "offered here)",
        choices=("last", "best_holdout"),
        default="last",
    )
    shortcut: str = _shortcut_rule()
    stem: str = _stem_rule()
    stem_pool: str = _stem_pool_rule()
    vgg_head: str = _vgg_head_rule()


@dataclass(frozen=True)
class ConversionRun(TrainingParams):
    """A QCFS ANN trained at T = 1, then converted to an IF SNN simulated for T steps."""

    qcfs_levels: int = rule("QCFS quantisation levels L", low=1, high=256, default=4)
    qcfs_lambda: float = rule("initial QCFS clip lambda", low=0, low_open=True, default=8.0)


@dataclass(frozen=True)
class DirectRun(TrainingParams):
    """An LIF SNN trained with the TET loss at T steps."""

    surrogate: str = rule("surrogate gradient", choices=SURROGATE_NAMES, default="triangle")
    tau: float = rule("LIF leak factor", low=0, high=1, low_open=True, default=0.5)
    tet_lambda: float = rule("weight of TET's MSE term", low=0, high=1, default=1e-3)
    tet_mode: str = rule(
        "CE on each step's output (code) or on the running mean (paper eq. 11)",
        choices=("per_step", "accumulated"),
        default="per_step",
    )


@dataclass(frozen=True)
class ReleasedRun:
    """The authors' released weights (a file never downloaded by the pipeline) mapped onto our model and
    run through the same evaluation as a converted or trained SNN: `seenn import-checkpoint`."""

    layout: str = rule("key layout of the file (pipeline/snn/released.py)", choices=RELEASED_LAYOUTS)
    file: str = rule("path of the authors' checkpoint file")
    dataset: str = rule("prepared dataset", choices=STATIC_DATASETS)
    model: str = rule("architecture (registry name) the layout maps onto", choices=MODEL_NAMES)
    width: float = rule(
        "channel multiplier (the released files are width 1)", low=0, high=4, low_open=True, default=1.0
    )
    T: int = rule("timesteps to simulate", low=1, high=1000, default=4)
    shortcut: str = _shortcut_rule()
    stem: str = _stem_rule()
    stem_pool: str = _stem_pool_rule()
    vgg_head: str = _vgg_head_rule()


@dataclass(frozen=True)
class SweepParams:
    alphas: list = rule(
        "SEENN-I threshold grid for the curves", default=[0.5, 0.7, 0.8, 0.9, 0.95, 0.99, 0.999]
    )
    accumulate: str = rule(
        "running output: sum (released code) or mean (paper eq. 3)", choices=("sum", "mean"), default="sum"
    )
    direct_temperature: float = rule(
        "softmax temperature for direct-trained SNNs", low=0, low_open=True, default=1.0
    )
    conversion_temperature: float = rule(
        "softmax temperature for converted SNNs (released: 8)", low=0, low_open=True, default=8.0
    )
    topk_betas: list = rule(
        "SNNCutoff Top-K thresholds on the top-1 minus top-2 gap of summed logits",
        default=[0.0, 0.5, 1.0, 2.0, 4.0, 8.0, 16.0, 32.0],
    )
    cutoff_epsilons: list = rule("SNNCutoff calibration tolerances (its paper: 0, 0.01)", default=[0.0, 0.01])
    entropy_thresholds: list = rule(
        "entropy-score thresholds (1 - H / log C)", default=[0.1, 0.3, 0.5, 0.7, 0.9, 0.95]
    )
    entropy_temperature: float = rule(
        "softmax temperature of the entropy score, direct and converted SNNs (released: none, 1)",
        low=0,
        low_open=True,
        default=1.0,
    )
    calibration_grid: str = rule(
        "calibrated Top-K candidates: one grid over the largest gap of all steps, last candidate as fallback "
        "(snncutoff, SNNCutoff's code) or each step's own grid, +inf as fallback (per_step)",
        choices=("snncutoff", "per_step"),
        default="snncutoff",
    )
    calibration_dropout: float = rule(
        "dropout on every spiking layer's output while recording the training-set outputs the calibration "
        "reads (SNNCutoff: 0.3; training stages use it)",
        low=0,
        high=1,
        high_open=True,
        default=0.3,
    )


@dataclass(frozen=True)
class TablesParams:
    alphas: list = rule("SEENN-I slots after the headline alpha", default=[0.99, 0.999])
    timesteps: list = rule("fixed-T slots before the run's own T", default=[1, 2])


@dataclass(frozen=True)
class SeennIIParams:
    """SEENN-II finetuning (paper sec. 3.4-3.5) of directly trained runs."""

    runs: list = rule("direct runs that get a SEENN-II policy", default=[])
    betas: list = rule(
        "beta grid of the SEENN-II curve (one cached finetune per run and beta)", default=[0.05, 0.5]
    )
    candidates: typing.Any = rule("candidate timesteps: 'all' (1..T) or a list of steps", default="all")
    variant: str = rule(
        "joint SNN + policy training (paper eq. 12) or frozen SNN (released code)",
        choices=("joint", "released"),
        default="joint",
    )
    epochs: int = rule("finetuning epochs", low=1, default=10)
    batch_size: int = rule("samples per step", low=1, default=64)
    lr: float = rule("learning rate of both networks (paper: 0.01)", low=0, low_open=True, default=0.01)
    momentum: float = rule(
        "SGD momentum (paper 0.9, released code 0)", low=0, high=1, high_open=True, default=0.9
    )
    weight_decay: float = rule("L2 weight decay", low=0, default=5e-4)
    policy_width: float = rule(
        "channel multiplier of the ResNet-8 policy", low=0, high=4, low_open=True, default=1.0
    )
    policy_input_size: int = rule(
        "policy input resolution, 0 = the data's own (paper: 112 for ImageNet)", low=0, default=0
    )
    shift: int = rule(
        "augmentation while finetuning: random translation in pixels (0 = none)", low=0, high=16, default=0
    )
    flip: bool = rule("augmentation while finetuning: random horizontal flip", default=False)
    policy_data: str = rule(
        "what the policy learns from: holdout (the data stage's held-out split, outputs the SNN has not "
        "fit; the joint SNN term keeps its own training split) or train (the SNN's own training inputs, "
        "the paper's way)",
        choices=("holdout", "train"),
        default="train",
    )


SWITCH = ("auto", True, False)  # a speed switch: auto = on where it was measured to help (README)


@dataclass(frozen=True)
class SpeedParams:
    """Training speed switches; none changes what is computed beyond float rounding (amp: bf16)."""

    amp: typing.Any = rule(
        "bf16 autocast of conv/linear layers, membrane and loss in fp32: auto (on for CUDA) | true | false",
        default="auto",
    )
    channels_last: typing.Any = rule(
        "channels-last memory format through the network: auto (on for CUDA) | true | false", default="auto"
    )
    fused_neurons: typing.Any = rule(
        "LIF time loop as one fused function with a hand-written backward: auto (on for CUDA) | true | false",
        default="auto",
    )
    data_on_device: typing.Any = rule(
        "in-memory datasets held on the training device, batches cut and augmented there: "
        "auto | true | false",
        default="auto",
    )
    compile: typing.Any = rule(
        "torch.compile the fused neuron loop: auto (on for CUDA) | true | false", default="auto"
    )


@dataclass(frozen=True)
class DistributedParams:
    """How a training stage behaves under `torchrun --nproc_per_node N` (ignored in a single process)."""

    batch_size: str = rule(
        "a run's batch_size is the global batch split over the processes, or each process's",
        choices=("global", "per_process"),
        default="global",
    )
    lr_scaling: str = rule(
        "learning rate as given, or x the number of processes (linear scaling rule)",
        choices=("none", "linear"),
        default="none",
    )
    sync_batchnorm: bool = rule(
        "BatchNorm statistics over the global batch (needed to match a single process)", default=True
    )


@dataclass(frozen=True)
class CpuParams:
    """How CPU runs compute, which decides their last bits (pipeline/core/cpu.py): the `seenn` entry point
    applies it before torch or numpy load."""

    isa: str = rule(
        "instruction set of the CPU kernels: avx2 (the same numbers on every x86-64 CPU with AVX2) or "
        "native (the fastest kernels of this CPU; results then depend on the CPU)",
        choices=("avx2", "native"),
        default="avx2",
    )
    threads: int = rule(
        "intra-op threads of CPU runs (torch and numpy's BLAS); a reduction split over more threads adds "
        "in another order, so results depend on it",
        low=1,
        high=256,
        default=2,
    )


@dataclass(frozen=True)
class HardwareParams:
    """The hardware stage's measurement (Figure 3)."""

    test_inputs: int = rule(
        "test inputs the hardware stage times and counts, evenly spaced over the test set (0 = all); "
        "accuracy, average timesteps and energy are those of these inputs",
        low=0,
        default=0,
    )


@dataclass(frozen=True)
class Params:
    seed: int = rule("seed for data splits, initialisation and shuffling", low=0, default=0)
    extra_seeds: typing.Any = rule(
        "more training seeds: every conversion and direct run is trained again with each, into "
        "runs/<run>-seed<k> (same data split), and Tables 1-5 show mean +- std over all seeds",
        default=[],
    )
    device: str = rule("where stages compute", choices=DEVICES, default="auto")
    alpha: float = rule(
        "headline SEENN-I confidence threshold", low=0, high=1, low_open=True, high_open=True, default=0.95
    )
    beta: float = rule("SEENN-II wrong-prediction penalty", low=0, default=0.1)
    checkpoint_every: int = rule(
        "epochs between resumable checkpoints of training stages (0 = none)", low=0, default=1
    )
    deterministic: bool = rule(
        "deterministic GPU kernels (slower; CPU runs are deterministic anyway)", default=False
    )
    cpu: CpuParams = field(default_factory=CpuParams)
    speed: SpeedParams = field(default_factory=SpeedParams)
    distributed: DistributedParams = field(default_factory=DistributedParams)
    data: DataParams = field(default_factory=DataParams)
    conversion: dict = field(default_factory=dict)  # run name -> ConversionRun
    direct: dict = field(default_factory=dict)  # run name -> DirectRun
    released: dict = field(default_factory=dict)  # run name -> ReleasedRun
    sweep: SweepParams = field(default_factory=SweepParams)
    tables: TablesParams = field(default_factory=TablesParams)
    seenn2: SeennIIParams = field(default_factory=SeennIIParams)
    hardware: HardwareParams = field(default_factory=HardwareParams)


# --- validation -------------------------------------------------------------------------------------
def _fail(key: str, value: Any, allowed: str) -> typing.NoReturn:
    raise ParamsError(f"params: {key} = {value!r} is not allowed: {allowed}")


def _allowed(meta: dict) -> str:
    if meta.get("choices"):
        return "one of " + ", ".join(meta["choices"])
    low, high = meta.get("low"), meta.get("high")
    left = "(" if meta.get("low_open") else "["
    right = ")" if meta.get("high_open") else "]"
    if low is not None and high is not None:
        return f"a value in {left}{low}, {high}{right}"
    if low is not None:
        return f"a value {'>' if meta.get('low_open') else '>='} {low}"
    if high is not None:
        return f"a value {'<' if meta.get('high_open') else '<='} {high}"
    return "see params.yaml"


def _check_scalar(key: str, value: Any, kind: type, meta: dict) -> Any:
    if kind is bool:
        if not isinstance(value, bool):
            _fail(key, value, "true or false")
        return value
    if kind is int:
        if isinstance(value, bool) or not isinstance(value, int):
            _fail(key, value, "an integer, " + _allowed(meta))
    elif kind is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            _fail(key, value, "a number, " + _allowed(meta))
        value = float(value)
    elif kind is str:
        if not isinstance(value, str):
            _fail(key, value, "a string, " + _allowed(meta))
    if meta.get("choices") and value not in meta["choices"]:
        _fail(key, value, _allowed(meta))
    low, high = meta.get("low"), meta.get("high")
    if low is not None and (value < low or (meta.get("low_open") and value == low)):
        _fail(key, value, _allowed(meta))
    if high is not None and (value > high or (meta.get("high_open") and value == high)):
        _fail(key, value, _allowed(meta))
    return value


# Keys params files once had, with where their job went (the one-line error says it instead of a guess).
RETIRED = {
    "launcher": "the launcher is no longer a param (it cannot change results, and a param in the stage "
    "command would invalidate them): remove it and set SEENN_LAUNCHER, e.g. "
    "SEENN_LAUNCHER='torchrun --nproc_per_node 4', or write it in .seenn/launcher "
    '(README "Several GPUs or nodes")',
}


def _unknown(prefix: str, key: str, known: list[str]) -> typing.NoReturn:
    if prefix + key in RETIRED:
        raise ParamsError(f"params: unknown key {prefix + key!r}: {RETIRED[prefix + key]}")
    guess = difflib.get_close_matches(key, known, n=1)
    hint = f"; did you mean {guess[0]!r}?" if guess else f"; known keys: {', '.join(known)}"
    raise ParamsError(f"params: unknown key {prefix + key!r}{hint}")


def build(cls: type, raw: Any, prefix: str = "") -> Any:
    """Build dataclass `cls` from a mapping, checking every key against its rule."""
    where = prefix.rstrip(".") or "params.yaml"
    if not isinstance(raw, dict):
        raise ParamsError(f"params: {where} must be a mapping of keys, got {raw!r}")
    hints = typing.get_type_hints(cls)
    known = [f.name for f in fields(cls)]
    for key in raw:
        if key not in known:
            _unknown(prefix, str(key), known)
    values = {}
    for f in fields(cls):
        key = prefix + f.name
        kind = hints[f.name]
        if f.name not in raw:
            if f.default is MISSING and f.default_factory is MISSING:
                raise ParamsError(f"params: {key} is missing ({f.metadata.get('doc', 'required')})")
            continue
        value = raw[f.name]
        if isinstance(kind, type) and hasattr(kind, "__dataclass_fields__"):
            values[f.name] = build(kind, value, key + ".")
        elif kind is dict or kind is typing.Any:
            values[f.name] = value  # run tables and free-form keys are checked by parse_params
        elif kind is list:
            if not isinstance(value, list) or not value:
                _fail(key, value, "a non-empty list")
            values[f.name] = value
        else:
            values[f.name] = _check_scalar(key, value, kind, dict(f.metadata))
    return cls(**values)


def _check_list(key: str, values: list, kind: type, meta: dict) -> list:
    return [_check_scalar(f"{key}[{i}]", v, kind, meta) for i, v in enumerate(values)]


def _build_runs(cls: type, raw: Any, section: str) -> dict:
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise ParamsError(f"params: {section} must map run names to settings, got {raw!r}")
    runs = {}
    for name, spec in raw.items():
        if not isinstance(name, str) or not name.replace("-", "").replace("_", "").isalnum():
            _fail(f"{section}.{name}", name, "a run name of letters, digits, '-' and '_'")
        runs[name] = build(cls, spec, f"{section}.{name}.")
    return runs


def parse_params(raw: Any) -> Params:
    """Validate the whole of params.yaml; raise ParamsError naming the first bad key."""
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise ParamsError(f"params: params.yaml must be a mapping, got {type(raw).__name__}")
    raw = dict(raw)
    conversion = _build_runs(ConversionRun, raw.pop("conversion", None), "conversion")
    direct = _build_runs(DirectRun, raw.pop("direct", None), "direct")
    released = _build_runs(ReleasedRun, raw.pop("released", None), "released")
    params = build(Params, raw)
    unit = dict(low=0, high=1, low_open=True, high_open=True)
    _check_list("sweep.alphas", params.sweep.alphas, float, unit)
    _check_list("sweep.topk_betas", params.sweep.topk_betas, float, dict(low=0))
    _check_list(
        "sweep.cutoff_epsilons", params.sweep.cutoff_epsilons, float, dict(low=0, high=1, high_open=True)
    )
    _check_list(
        "sweep.entropy_thresholds",
        params.sweep.entropy_thresholds,
        float,
        dict(low=0, high=1, high_open=True),
    )
    _check_list("tables.alphas", params.tables.alphas, float, unit)
    _check_list("tables.timesteps", params.tables.timesteps, int, dict(low=1))
    for i, a in enumerate(params.tables.alphas):
        if a not in params.sweep.alphas:
            _fail(f"tables.alphas[{i}]", a, "a value of sweep.alphas (the tables read the sweep's rows)")
    both = set(conversion) & set(direct)
    if both:
        raise ParamsError(f"params: run name {sorted(both)[0]!r} appears in both conversion and direct")
    taken = {*conversion, *direct, *(f"{name}-ann" for name in conversion)}  # folders under runs/
    _check_seeds(params.seed, params.extra_seeds, taken)
    for name, run in released.items():
        if name in taken:
            _fail(f"released.{name}", name, "a run name that no conversion or direct run uses (runs/<name>)")
        if not run.file.strip():
            _fail(f"released.{name}.file", run.file, "the path of the authors' checkpoint")
    for section, runs in (("conversion", conversion), ("direct", direct), ("released", released)):
        for name, run in runs.items():
            _check_architecture(f"{section}.{name}", run)
    frames = {"digits_dvs": params.data.digits_dvs.frames, "cifar10_dvs": params.data.cifar10_dvs.frames}
    for section, runs in (("conversion", conversion), ("direct", direct)):
        for name, run in runs.items():
            if run.dataset in frames and run.T > frames[run.dataset]:
                _fail(
                    f"{section}.{name}.T", run.T, f"at most data.{run.dataset}.frames = {frames[run.dataset]}"
                )
            if section == "conversion" and run.dataset in EVENT_DATASETS:
                _fail(
                    f"{section}.{name}.dataset",
                    run.dataset,
                    "a static-image dataset (" + ", ".join(STATIC_DATASETS) + ")",
                )
    _check_seenn2(params.seenn2, direct, params.data)
    for f in fields(SpeedParams):
        value = getattr(params.speed, f.name)
        if value not in SWITCH or isinstance(value, (int, float)) and not isinstance(value, bool):
            _fail(f"speed.{f.name}", value, "auto, true or false")
    return Params(
        **{
            **{f.name: getattr(params, f.name) for f in fields(Params)},
            "conversion": conversion,
            "direct": direct,
            "released": released,
        }
    )


def _check_seeds(seed: int, extra: Any, taken: set[str]) -> None:
    """`extra_seeds`: distinct integers >= 0 other than `seed`, whose replica folders name no other run."""
    if not isinstance(extra, list):
        _fail("extra_seeds", extra, "a list of seeds, e.g. [1, 2] ([] = one seed)")
    seeds = _check_list("extra_seeds", extra, int, dict(low=0))
    if len(set(seeds)) != len(seeds) or seed in seeds:
        _fail("extra_seeds", extra, f"distinct seeds other than seed = {seed}")
    for name in sorted(taken):
        for k in seeds:
            if f"{name}-seed{k}" in taken:
                _fail(
                    "extra_seeds", extra, f"seeds whose replica folder runs/{name}-seed{k} is no run's name"
                )


def _check_architecture(prefix: str, run: Any) -> None:
    """An architecture option the run's model does not have must keep its default."""
    if run.shortcut != "avgpool" and run.model not in BASIC_RESNETS:
        _fail(f"{prefix}.shortcut", run.shortcut, "avgpool: only " + ", ".join(BASIC_RESNETS) + " have it")
    if run.stem != "auto" and run.model not in RESNETS:
        _fail(f"{prefix}.stem", run.stem, "auto: only the ResNets (" + ", ".join(RESNETS) + ") have it")
    imagenet_stem = run.stem == "imagenet" or (run.stem == "auto" and run.model in IMAGENET_STEM_MODELS)
    if run.stem_pool not in ("auto", "avg") and not imagenet_stem:
        _fail(f"{prefix}.stem_pool", run.stem_pool, "auto: only an ImageNet stem (7x7/2 + pooling) pools")
    if run.vgg_head != "gap" and run.model != "vgg16":
        _fail(f"{prefix}.vgg_head", run.vgg_head, "gap: only vgg16 has this option")


def _check_seenn2(s: "SeennIIParams", direct: dict, data: "DataParams | None" = None) -> None:
    for i, name in enumerate(s.runs):
        if name not in direct:
            _fail(f"seenn2.runs[{i}]", name, "the name of a run in `direct` (" + ", ".join(direct) + ")")
        dataset = direct[name].dataset
        held = getattr(getattr(data, dataset, None), "holdout_fraction", 0.0) if data is not None else 0.0
        if s.policy_data == "holdout" and not held > 0:
            _fail(
                "seenn2.policy_data",
                s.policy_data,
                f"train, or a held-out split for run {name}: data.{dataset}.holdout_fraction > 0",
            )
    if len(set(s.runs)) != len(s.runs):
        _fail("seenn2.runs", s.runs, "a list without repeats")
    _check_list("seenn2.betas", s.betas, float, dict(low=0))
    if s.candidates == "all":
        return
    if not isinstance(s.candidates, list) or not s.candidates:
        _fail("seenn2.candidates", s.candidates, "'all' or a non-empty list of timesteps")
    steps = _check_list("seenn2.candidates", s.candidates, int, dict(low=1))
    if steps != sorted(set(steps)):
        _fail("seenn2.candidates", s.candidates, "increasing timesteps without repeats")
    for name in s.runs:
        if steps[-1] > direct[name].T:
            _fail(
                "seenn2.candidates", s.candidates, f"timesteps of at most direct.{name}.T = {direct[name].T}"
            )


def resolved(params: Params) -> dict:
    """Every key of `params` with its value, defaults included, as plain YAML-ready data.

    check_params writes this as build/params.yaml and the other stages declare their DVC params from it,
    so a key left at its default is still a tracked value: changing a default re-runs the stages that use
    it, and a stage can declare a key that params.yaml does not spell out.
    """
    return asdict(params)


def candidate_steps(candidates: "str | list[int]", T: int) -> tuple[int, ...]:
    """The SEENN-II action space of a run with T timesteps."""
    return tuple(range(1, T + 1)) if candidates == "all" else tuple(candidates)


def resolve_device(device: str) -> str:
    """`auto` -> `cuda` when a GPU is present, else `cpu`; `cuda` without a GPU is an error."""
    import torch

    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if device == "cuda" and not torch.cuda.is_available():
        raise ParamsError(
            "params: device = 'cuda' is not allowed here: no CUDA GPU is visible (use auto or cpu)"
        )
    return device
