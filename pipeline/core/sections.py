"""The sections of params.yaml besides `data`: training runs (conversion, direct, released), the sweep,
tables, SEENN-II, speed, distributed, CPU and hardware settings, and `Params`, the whole file."""

import typing
from dataclasses import dataclass, field

from pipeline.core.data_params import DataParams
from pipeline.core.rules import (
    DEVICES,
    EVENT_DATASETS,
    MODEL_NAMES,
    RELEASED_LAYOUTS,
    STATIC_DATASETS,
    SURROGATE_NAMES,
    rule,
)


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
    # the fast recipe's ingredients (docs/recipe.md); all off = the paper's recipe
    label_smoothing: float = rule(
        "label smoothing of the cross-entropy (0 = none)", low=0, high=1, high_open=True, default=0.0
    )
    nesterov: bool = rule("Nesterov momentum", default=False)
    warmup_epochs: float = rule(
        "epochs of linear learning-rate warm-up before the cosine decay", low=0, default=0.0
    )
    ema: float = rule(
        "per-step decay of an exponential moving average of the weights, which replace the trained ones at "
        "the end (0 = off; e.g. 0.99)",
        low=0,
        high=1,
        high_open=True,
        default=0.0,
    )
    tta_flip: bool = rule(
        "flip test-time augmentation: every recorded output is the mean over the input and its mirror (two "
        "passes: twice the inference cost, which the hardware stage does not count)",
        default=False,
    )
    calibration_per_class: int = rule(
        "in-memory data: training images per class in SNNCutoff's calibration outputs (0 = all)",
        low=0,
        default=0,
    )


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
    # the fast recipe's timestep curriculum (docs/recipe.md): cheap short-T epochs first, then T
    curriculum_T: int = rule(
        "timestep curriculum: the first `curriculum_epochs` epochs train at this many steps (0 = off)",
        low=0,
        high=1000,
        default=0,
    )
    curriculum_epochs: int = rule(
        "timestep curriculum: how many of the `epochs` train at `curriculum_T` steps", low=0, default=0
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
        "beta grid of the SEENN-II curve (one cached finetune per run and beta; []: the headline beta only)",
        default=[0.05, 0.5],
        empty_ok=True,
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
    fused_qcfs: typing.Any = rule(
        "QCFS activation as one fused function with a hand-written backward: auto (on for CUDA) | true | false",
        default="auto",
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
