"""What the GPU check does (every setting, recorded in its JSON), its parts and its clock.

`T0` is the moment this module was first imported: benchmarks/gpu_check.py imports it before torch, so
the time budget counts from the start of the process."""

import time
from dataclasses import dataclass
from pathlib import Path

T0 = time.perf_counter()  # the budget counts from here (before torch is imported)

ROOT = Path(__file__).resolve().parents[2]
# the run part b trains: the CPU profile's FastVGG with the fast recipe (docs/recipe.md), here at `width`
PROFILE, RUN = ROOT / "profiles" / "cifar10-cpu.yaml", "cifar10-fastvgg-tet"
PARTS = ("throughput", "training", "latency")
PASSES = ("fixed", "seenn1", "merged_forward")  # the latency table's timed passes
WATCHDOG_MARGIN_S = 3.0  # the watchdog fires this long before the budget ends (writing takes milliseconds)
DYNAMO_RECOMPILE_LIMIT = 64  # the fused loop compiles per shape; torch's default 8 is met by one epoch


@dataclass(frozen=True)
class Settings:
    """Everything the check does, recorded in the JSON; `tiny_overrides` shrinks it for a CPU test."""

    budget_s: float = 480.0  # the whole run, process start to files written
    train_s: float = 300.0  # part b's box: warm-up and epochs
    throughput_s: float = 80.0  # part a's box
    latency_s: float = 45.0  # part c's box
    data_reserve_s: float = 20.0  # kept for loading CIFAR-10 when part a's box is cut
    eval_reserve_s: float = 15.0  # kept after training: test logits, sweep, AET bootstrap
    device: str = "auto"
    cifar10_root: str | None = None
    tiny: bool = False
    threads: int = 0  # torch CPU threads (0: torch's default)
    seed: int = 1000  # the paper profile's seed
    model: str = "resnet19"
    T: int = 4
    # a. throughput ablation
    tp_width: float = 1.0
    tp_input: int = 32
    tp_batch: int = 256
    tp_batches: int = 12  # training steps per timed epoch
    tp_repeats: int = 3  # timed epochs per path (median)
    # b. time-boxed training
    width: float = 1.0
    batch_size: int = 256
    warmup_steps: int = 8  # full batches in the warm-up subset (plus the epoch's last, partial batch)
    epoch_margin: float = 0.95  # share of the box the planned epochs may fill
    max_epochs: int = 0  # 0: no cap
    synthetic_train: int = 50_000  # synthetic data (no --cifar10-root): CIFAR-10's sizes
    synthetic_test: int = 10_000
    subset_per_class: int = 0  # CIFAR-10: 0 keeps all
    test_subset_per_class: int = 0
    # c. latency
    alpha: float = 0.95
    latency_batch_sizes: tuple[int, ...] = (1, 256)
    latency_rounds: int = 5  # timed passes per policy (median), fewer if the box ends
    latency_batches: int = 16  # inputs per pass: this many batches, at least latency_min_samples,
    latency_min_samples: int = 256  # at most the test set (batch 1: 256 inputs, batch 256: 4096)

    @staticmethod
    def tiny_overrides() -> dict:
        return dict(
            train_s=3.0,
            throughput_s=20.0,
            latency_s=10.0,
            data_reserve_s=2.0,
            eval_reserve_s=2.0,
            threads=1,
            tp_width=0.0625,
            tp_input=8,
            tp_batch=8,
            tp_batches=1,
            tp_repeats=1,
            width=0.0625,
            batch_size=16,
            warmup_steps=1,
            max_epochs=2,
            synthetic_train=48,
            synthetic_test=40,
            subset_per_class=4,
            test_subset_per_class=2,
            latency_rounds=2,
            latency_batches=4,
            latency_min_samples=4,
        )
