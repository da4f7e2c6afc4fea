"""One-shot GPU check (issue #14): three measurements in one time-boxed run, written as gpu_check.json and
gpu_check.md (a summary to paste into the README) in `--out`.

a. throughput: the training throughput ablation of benchmarks/train_throughput.py at full width
   (ResNet-19, T = 4, batch 256, synthetic CIFAR-sized data): the reference path, the fast path
   (`speed: auto`), each switch alone, the compiled fused loop, and the fast path in deterministic mode.
b. training: ResNet-19 at full width, T = 4, trained on CIFAR-10 with the paper profile's recipe
   (profiles/paper.yaml `direct.cifar10-resnet19`: TET loss, Dspike, SGD + cosine, crop + flip; batch 256
   with the learning rate scaled linearly from the profile's batch) for as many epochs as fit in
   `--train-s`; then the test accuracy per T with Wilson 95 % intervals on the whole test set, and the
   SEENN-I sweep and AET on the saved per-step logits (`timestep_logits.npz`, also written to `--out`).
c. latency: the early-exit engine (pipeline/hardware/engine.py `latency`) on the trained net at batch 1
   and 256: fixed T against SEENN-I at alpha 0.95, realized speed-up against the ideal T / avg T.

The time box. The run never outlasts `--budget-s` (counted from the start of the process): each part gets
a box, cut so that the later parts keep theirs, and stops cooperatively at it (a throughput path or a
latency round starts only if its last duration still fits; training stops between epochs); a watchdog
thread writes both files and ends the process when the budget is spent anyway (a part stuck in one call).
Training fixes its number of epochs, and with it the cosine schedule, before its first step: a throwaway
copy of the model runs a warm-up pass twice over a subset whose batches have the shapes of a full epoch
(the first pass pays torch.compile and cuDNN autotuning, the second is timed), one evaluation of the test
set is timed, and epochs = floor(0.95 * time left in the box / (step time * steps per epoch + evaluation
time)), at least 1 (pipeline/training/timebox.py). If epochs turn out slower, training stops after the
epoch that would otherwise run past the part's hard end, and the JSON says the schedule did not finish.

A part that fails is recorded (its error and traceback) and the run goes on; the exit status is 0 when
every part is "ok", 1 otherwise (the files are written either way). The script never downloads: without
`--cifar10-root`, part b uses synthetic CIFAR-sized data and says so.

usage: python -m benchmarks.gpu_check --out DIR [--cifar10-root PATH] [--budget-s 480] [--train-s 300]
       [--device auto] [--tiny] [--throughput-s S] [--latency-s S] [--latency-batch-sizes 1,256]
       [--alpha 0.95] [--threads K]
`--tiny`: width 1/16, a few batches, synthetic data unless `--cifar10-root` is given: seconds on a CPU.
"""

import time

_T0 = time.perf_counter()  # the budget counts from here (before torch is imported)

import argparse  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402
import platform  # noqa: E402
import statistics  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import threading  # noqa: E402
import traceback  # noqa: E402
from collections.abc import Callable  # noqa: E402
from dataclasses import asdict, dataclass, field, replace  # noqa: E402
from datetime import datetime, timezone  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
import torch  # noqa: E402
import yaml  # noqa: E402

from benchmarks.early_exit import merged_forward  # noqa: E402
from benchmarks.train_throughput import ablation_paths, time_paths  # noqa: E402
from pipeline.core.atomic import write_atomic, write_text_atomic  # noqa: E402
from pipeline.core.config import CifarData, DirectRun, SpeedParams, parse_params, resolve_device  # noqa: E402
from pipeline.data import DATASETS  # noqa: E402
from pipeline.data.cifar import CIFAR_MEAN_STD  # noqa: E402
from pipeline.data.prepared import DatasetInfo, PreparedData, to_sequence  # noqa: E402
from pipeline.exits.policies import seenn1_exit  # noqa: E402
from pipeline.exits.sweep import aet_summary, sweep_rows  # noqa: E402
from pipeline.hardware.engine import latency  # noqa: E402
from pipeline.hardware.rules import FixedT, Seenn1  # noqa: E402
from pipeline.report.markdown import NO_VALUE, pipe_table  # noqa: E402
from pipeline.snn.networks import build_direct_snn  # noqa: E402
from pipeline.training.context import Execution, TrainingContext  # noqa: E402
from pipeline.training.determinism import CUBLAS_WORKSPACE, apply_determinism, seed_everything  # noqa: E402
from pipeline.training.feeds import EVAL_BATCH, eval_feed, training_feed  # noqa: E402
from pipeline.training.loop import evaluate, fit, supervised_task, timestep_logits  # noqa: E402
from pipeline.training.losses import tet_loss  # noqa: E402
from pipeline.training.recipes import train_config  # noqa: E402
from pipeline.training.speed import Speed, resolve_speed  # noqa: E402
from pipeline.training.timebox import (  # noqa: E402
    EpochDeadline,
    TimeBoxExceeded,
    epoch_estimate,
    epochs_within,
    warmup_samples,
)

ROOT = Path(__file__).resolve().parents[1]
PROFILE, RUN = ROOT / "profiles" / "paper.yaml", "cifar10-resnet19"  # the recipe part b trains
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


# --- the report: one JSON document, rendered as markdown, written after every part and by the watchdog ---


class Report:
    """The JSON document of the run; `write` renders both files atomically (thread-safe)."""

    def __init__(self, out: Path, settings: Settings):
        self.out, self.lock = out, threading.Lock()
        self.current: str | None = None  # the part now running
        self.data: dict = {
            "schema": 1,
            "started_utc": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "ok": None,
            "settings": _jsonable(asdict(settings)),
            "machine": {},
            "budget": {"budget_s": settings.budget_s, "elapsed_s": None, "stopped_by_watchdog": False},
            "parts": {name: {"status": "pending", "wall_s": None} for name in PARTS},
        }

    def write(self, final: bool = False) -> None:
        with self.lock:
            parts = self.data["parts"].values()
            self.data["budget"]["elapsed_s"] = round(time.perf_counter() - _T0, 2)
            if final:
                self.data["ok"] = all(p["status"] == "ok" for p in parts)
            text = json.dumps(_jsonable(self.data), indent=2) + "\n"
            write_text_atomic(self.out / "gpu_check.json", text)
            write_text_atomic(self.out / "gpu_check.md", render_markdown(self.data))

    def watchdog_fired(self) -> None:
        """The budget is spent: the running part is marked, both files are written (the main thread may
        be changing the document meanwhile: a failed write is tried once more)."""
        if self.current is not None:
            part = self.data["parts"][self.current]
            part.update(status="timed_out", error="the total budget ran out while this part was running")
            part["wall_s"] = round(time.perf_counter() - part.get("_start", time.perf_counter()), 2)
        self.data["budget"]["stopped_by_watchdog"] = True
        try:
            self.write(final=True)
        except RuntimeError:  # "dictionary changed size during iteration"
            self.write(final=True)


def _jsonable(value):
    """Plain JSON values: numpy scalars and arrays, tuples and non-finite floats (as null)."""
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items() if not str(k).startswith("_")}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, np.ndarray):
        return _jsonable(value.tolist())
    if isinstance(value, np.generic):
        return _jsonable(value.item())
    if isinstance(value, float) and not np.isfinite(value):
        return None
    return value


def start_watchdog(report: Report, deadline: float) -> threading.Timer:
    """At `deadline` (a perf_counter value): write what there is and end the process (status 1)."""

    def fire() -> None:
        try:
            report.watchdog_fired()
        finally:
            os._exit(1)

    timer = threading.Timer(max(0.0, deadline - time.perf_counter()), fire)
    timer.daemon = True
    timer.start()
    return timer


def run_part(report: Report, name: str, box_s: float, work: Callable[[float], dict]) -> None:
    """Run one part in its box: `work(deadline)` returns its result (a "status" key of "partial" marks a
    part some of whose measurements failed); an exception is recorded, and the run goes on."""
    part = report.data["parts"][name]
    start = time.perf_counter()
    part.update(status="running", box_s=round(box_s, 1), started_at_s=round(start - _T0, 2), _start=start)
    if box_s <= 0:
        part.update(status="skipped", error="no time left in the budget for this part", wall_s=0.0)
        report.write()
        log(f"{name}: skipped (no time left in the budget)")
        return
    report.current = name
    report.write()
    log(f"{name}: started, box {box_s:.0f} s")
    try:
        result = work(start + box_s)
        part.update(status=result.pop("status", "ok"), result=result)
    except Exception as err:  # noqa: BLE001 (a failed part is recorded; the others still run)
        part.update(status="failed", error=_one_line(err), traceback=traceback.format_exc(limit=12))
    finally:
        report.current = None
    part["wall_s"] = round(time.perf_counter() - start, 2)
    report.write()
    error = f" ({part['error']})" if part.get("error") else ""
    log(f"{name}: {part['status']} in {part['wall_s']:.1f} s{error}")


def log(message: str) -> None:
    """A progress line on stdout, stamped with the seconds since the start."""
    print(f"[gpu_check {time.perf_counter() - _T0:6.1f} s] {message}", flush=True)


def _one_line(err: BaseException) -> str:
    text = str(err).strip()
    return f"{type(err).__name__}: {text.splitlines()[0] if text else '-'}"


def _sync(device: str) -> None:
    if device.startswith("cuda"):
        torch.cuda.synchronize()


def _timed(fn: Callable[[], object], device: str) -> tuple[object, float]:
    """`fn()` and its seconds, synchronised on CUDA before and after."""
    _sync(device)
    start = time.perf_counter()
    out = fn()
    _sync(device)
    return out, time.perf_counter() - start


# --- the machine -------------------------------------------------------------------------------------------


def _command(args: list[str]) -> str | None:
    try:
        done = subprocess.run(args, capture_output=True, text=True, timeout=10, cwd=ROOT)
        return done.stdout.strip() if done.returncode == 0 else None
    except (OSError, subprocess.SubprocessError):
        return None


def machine(device: str) -> dict:
    """GPU, driver, torch, CUDA and cuDNN versions, CPU threads, the checkout's commit."""
    info = {
        "device": device,
        "python": platform.python_version(),
        "platform": platform.platform(),
        "torch": torch.__version__,
        "cuda": torch.version.cuda,
        "cudnn": torch.backends.cudnn.version() if torch.backends.cudnn.is_available() else None,
        "cpu_count": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "tf32_matmul": torch.backends.cuda.matmul.allow_tf32,
        "tf32_cudnn": torch.backends.cudnn.allow_tf32,
        "git_commit": _command(["git", "rev-parse", "HEAD"]),
        "git_dirty": None,
    }
    status = _command(["git", "status", "--porcelain", "--untracked-files=no"])
    info["git_dirty"] = None if status is None else bool(status)
    if device.startswith("cuda"):
        p = torch.cuda.get_device_properties(torch.cuda.current_device())
        info.update(
            gpu=p.name,
            gpu_memory_gib=round(p.total_memory / 2**30, 1),
            multiprocessors=p.multi_processor_count,
            capability=f"{p.major}.{p.minor}",
            driver=_command(["nvidia-smi", "--query-gpu=driver_version", "--format=csv,noheader"]),
        )
    else:
        info["gpu"] = None
    return info


def dynamo_counters() -> dict:
    """torch.compile's own counts (graphs compiled, recompilations), to see whether shapes fell back."""
    try:
        from torch._dynamo.utils import counters

        return {group: dict(values) for group, values in counters.items() if group in ("stats", "recompiles")}
    except Exception:  # noqa: BLE001 (diagnostics only)
        return {}


# --- a. training throughput ablation ----------------------------------------------------------------------


def throughput_part(s: Settings, device: str, deadline: float) -> dict:
    """benchmarks/train_throughput.py's ablation (`--ablate --deterministic`) in the box."""
    paths = ablation_paths(device, ablate=True, deterministic=True)
    try:
        timings = time_paths(
            paths, s.tp_repeats, s.model, s.T, s.tp_width, s.tp_input, s.tp_batch, s.tp_batches, device,
            deadline=deadline, catch=True,
        )  # fmt: skip
    finally:
        _default_kernels(device)
    images = s.tp_batch * s.tp_batches
    ips = timings.images_per_second(images)
    reference = ips.get("reference")
    rows = {
        name: {
            "speed": asdict(speed),
            "deterministic": deterministic,
            "images_per_s": ips.get(name),
            "vs_reference": ips[name] / reference if name in ips and reference else None,
            "epochs_s": timings.epochs[name],
            "runs_s": timings.runs[name],
            "runs_skipped": timings.skipped[name],
            "error": timings.errors.get(name),
        }
        for name, (speed, deterministic) in paths.items()
    }
    fast, det = ips.get("fast"), ips.get("fast_deterministic")
    complete = not timings.errors and all(ips.get(name) for name in paths)
    return {
        "status": "ok" if complete else "partial",
        "model": s.model,
        "width": s.tp_width,
        "T": s.T,
        "batch_size": s.tp_batch,
        "input_size": s.tp_input,
        "steps_per_epoch": s.tp_batches,
        "repeats_asked": s.tp_repeats,
        "data": "synthetic uint8 CIFAR-sized images, crop + flip, TET loss (benchmarks/train_throughput.py)",
        "paths": rows,
        "speedup_fast": fast / reference if fast and reference else None,
        "deterministic_cost": fast / det if fast and det else None,  # > 1: deterministic mode is slower
        "dynamo": dynamo_counters(),
    }


def _default_kernels(device: str) -> None:
    """Back to the non-deterministic default after a path that switched deterministic mode on
    (`apply_determinism(False, "cpu")` leaves the global flag as it was)."""
    torch.use_deterministic_algorithms(False)
    apply_determinism(False, device)


# --- b. time-boxed CIFAR-10 training ------------------------------------------------------------------------


def recipe(s: Settings) -> tuple[DirectRun, dict, float]:
    """The profile's ResNet-19 run at `s.width` and `s.batch_size` (learning rate scaled linearly with the
    batch, the released code's rule), its sweep settings and the profile's batch size."""
    params = parse_params(yaml.safe_load(PROFILE.read_text()))
    paper = params.direct[RUN]
    run = replace(
        paper, width=s.width, T=s.T, batch_size=s.batch_size, lr=paper.lr * s.batch_size / paper.batch_size
    )
    sweep = params.sweep
    alphas = sorted({*map(float, sweep.alphas), float(s.alpha)})
    return (
        run,
        {"alphas": alphas, "accumulate": sweep.accumulate, "temperature": sweep.direct_temperature},
        paper,
    )


def synthetic_cifar(n_train: int, n_test: int, seed: int) -> PreparedData:
    """CIFAR-10-shaped uint8 images whose class sets their brightness (learnable, and nothing more)."""
    rng = np.random.default_rng(seed)

    def split(n: int) -> tuple[np.ndarray, np.ndarray]:
        y = rng.permutation(np.arange(n) % 10).astype(np.int64)
        x = rng.integers(0, 96, (n, 3, 32, 32)) + 16 * y[:, None, None, None]
        return x.astype(np.uint8), y

    mean, std = CIFAR_MEAN_STD["cifar10"]
    info = DatasetInfo("cifar10", "synthetic CIFAR-sized data", "static", 10, 3, 32, mean=mean, std=std)
    return PreparedData(info, *split(n_train), *split(n_test))


def load_data(s: Settings) -> tuple[PreparedData, str]:
    """CIFAR-10 from the local copy (never downloaded), or synthetic data without one."""
    if s.cifar10_root is None:
        return synthetic_cifar(s.synthetic_train, s.synthetic_test, s.seed), "synthetic"
    config = CifarData(
        root=s.cifar10_root,
        download=False,
        subset_per_class=s.subset_per_class,
        test_subset_per_class=s.test_subset_per_class,
    )
    return DATASETS.get("cifar10")(config, s.seed), f"CIFAR-10 from {s.cifar10_root}"


def subset(data: PreparedData, n_train: int, n_test: int) -> PreparedData:
    return replace(data, x_train=data.x_train[:n_train], y_train=data.y_train[:n_train],
                   x_test=data.x_test[:n_test], y_test=data.y_test[:n_test])  # fmt: skip


@dataclass
class Trainer:
    """The pieces of one training of `run` on `data` with `speed` (the recipe's `train_direct`, unrolled so
    that the model survives a stop between epochs)."""

    run: DirectRun
    data: PreparedData
    device: str
    speed: Speed
    seed: int
    model: torch.nn.Module = field(init=False)

    def __post_init__(self):
        seed_everything(self.seed)
        self.execution = Execution(speed=self.speed)
        self.model = build_direct_snn(self.run, self.data.info)
        self.config = train_config(self.run, self.seed, self.execution)
        self.train = training_feed(self.data, self.config, self.device, self.execution)
        self.test = eval_feed(self.data, "test", self.device, self.execution)
        loss = lambda out, y: tet_loss(out, y, lam=self.run.tet_lambda, mode=self.run.tet_mode)  # noqa: E731
        self.task = supervised_task(self.model, loss, self.encode, self.test, self.device, self.speed)

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        return to_sequence(x, self.data.info, self.run.T)

    def fit(self, on_epoch=None) -> dict:
        ctx = TrainingContext(
            device=self.device, execution=self.execution, on_epoch=on_epoch, desc="gpu-check"
        )
        return fit(self.task, self.train, self.config, ctx)

    def evaluate(self) -> tuple[np.ndarray, np.ndarray]:
        return evaluate(self.model, self.test, self.encode, self.device, self.speed)


def estimate_epoch(run: DirectRun, data: PreparedData, s: Settings, device: str, speed: Speed) -> dict:
    """Seconds per epoch of the real training, from a throwaway model: a warm-up pass over a subset with
    every batch shape of a full epoch (compilation, autotuning), the same pass again, timed, and one timed
    evaluation of the whole test set (which `fit` runs after every epoch)."""
    k_train = warmup_samples(len(data.y_train), run.batch_size, s.warmup_steps)
    k_test = warmup_samples(len(data.y_test), EVAL_BATCH, 1)
    warm = Trainer(replace(run, epochs=1), subset(data, k_train, k_test), device, speed, s.seed)
    _, first_s = _timed(warm.fit, device)
    _, pass_s = _timed(warm.fit, device)
    test = eval_feed(data, "test", device, warm.execution)
    _, eval_s = _timed(lambda: evaluate(warm.model, test, warm.encode, device, speed), device)
    steps = -(-len(data.y_train) // run.batch_size)
    pass_eval_s = eval_s * k_test / len(data.y_test)  # the warm-up pass's own evaluation, k_test images
    return {
        "warmup_samples": k_train,
        "warmup_steps": len(warm.train),
        "first_pass_s": first_s,  # includes compilation and autotuning
        "timed_pass_s": pass_s,
        "eval_s": eval_s,
        "steps_per_epoch": steps,
        "epoch_s": epoch_estimate(pass_s, len(warm.train), steps, eval_s, pass_eval_s),
    }


def training_part(s: Settings, device: str, deadline: float, hard_end: float, shared: dict) -> dict:
    """Load the data; fix the epochs from a timed warm-up so that warm-up and epochs fill `s.train_s` from
    there (never past the part's `deadline`); train, stopping between epochs before `hard_end` if epochs
    run slower than estimated; then evaluate and sweep the saved per-step logits."""
    (data, source), load_s = _timed(lambda: load_data(s), "cpu")
    train_end = min(deadline, time.perf_counter() + s.train_s)
    run, sweep, paper = recipe(s)
    shared.update(data=data, run=run, sweep=sweep)
    speed = resolve_speed(SpeedParams(), device)
    _default_kernels(device)
    result: dict = {
        "data": {"source": source, "train": len(data.y_train), "test": len(data.y_test), "load_s": load_s},
        "recipe": f"profiles/paper.yaml direct.{RUN} at batch {paper.batch_size}, lr {paper.lr:g}, "
        f"with the learning rate scaled linearly to this batch",
        "speed": asdict(speed),
    }
    try:
        estimate = estimate_epoch(run, data, s, device, speed)
    except Exception as err:  # noqa: BLE001 (the fast path failed: the reference path is the fallback)
        result["fast_path_error"] = _one_line(err)
        speed = Speed(data_on_device=True)
        result["speed"] = asdict(speed)
        _default_kernels(device)
        estimate = estimate_epoch(run, data, s, device, speed)
    left = train_end - time.perf_counter()
    epochs = epochs_within(left, estimate["epoch_s"], s.epoch_margin, 1, s.max_epochs or None)
    run = replace(run, epochs=epochs)
    result.update(run=asdict(run), estimate={**estimate, "box_left_s": left, "epochs": epochs})
    trainer = Trainer(run, data, device, speed, s.seed)
    guard = EpochDeadline(hard_end, epochs)
    shared.update(model=trainer.model, run=run)
    try:
        trainer.fit(on_epoch=guard)
        result["stopped_early"] = None
    except TimeBoxExceeded as stop:
        result["stopped_early"] = str(stop)
    result["epochs_done"] = len(guard.epoch_s)
    result["epoch_s"] = guard.epoch_s
    result["history"] = guard.history
    result["train_s"] = sum(guard.epoch_s)
    if guard.epoch_s:
        median = statistics.median(guard.epoch_s[1:] or guard.epoch_s)  # the first pays new shapes
        result["epoch_s_median"] = median
        result["projected_300_epochs_h"] = median * 300 / 3600
    (logits, labels), eval_s = _timed(trainer.evaluate, device)
    result["eval_s"] = eval_s
    result.update(sweep_results(logits, labels, sweep, s.alpha, shared["out"]))
    result["dynamo"] = dynamo_counters()
    shared["trained"] = True
    return result


def sweep_results(logits: np.ndarray, labels: np.ndarray, sweep: dict, alpha: float, out: Path) -> dict:
    """Save the per-step test logits, then score them from the saved file: accuracy per T (Wilson 95 %),
    the SEENN-I sweep over the alpha grid, exit shares at `alpha`, AET and empirical AET."""
    path = out / "timestep_logits.npz"
    write_atomic(path, lambda tmp: np.savez_compressed(tmp, logits=logits, labels=labels))
    with np.load(path) as saved:
        logits, labels = saved["logits"], saved["labels"]
    table, shares = sweep_rows(logits, labels, sweep["alphas"], sweep["accumulate"], sweep["temperature"])
    columns = ["param", "accuracy", "accuracy_low", "accuracy_high", "avg_timesteps",
               "avg_timesteps_low", "avg_timesteps_high", "n"]  # fmt: skip
    per_t = table[table.policy == "fixed"][columns].rename(columns={"param": "T"})
    seenn1 = table[table.policy == "seenn1"][columns].rename(columns={"param": "alpha"})
    at_alpha = shares[np.isclose(shares.param, alpha)]
    return {
        "logits_file": path.name,
        "sweep": sweep,
        "accuracy_per_T": per_t.to_dict("records"),
        "seenn1": seenn1.to_dict("records"),
        "exit_shares_at_alpha": {int(r.t): float(r.share) for r in at_alpha.itertuples()},
        "aet": aet_summary(logits, labels),
    }


# --- c. early-exit engine latency ---------------------------------------------------------------------------


def latency_part(s: Settings, device: str, deadline: float, shared: dict) -> dict:
    """Fixed T against SEENN-I at `s.alpha` through the engine, per batch size, alternating passes in the
    box; the engine's exits are compared with the offline rule on fp32 logits of the same inputs."""
    data: PreparedData = shared.get("data") or synthetic_cifar(s.synthetic_train, s.synthetic_test, s.seed)
    run, sweep = (shared["run"], shared["sweep"]) if "run" in shared else recipe(s)[:2]
    model = build_direct_snn(run, data.info)  # plain fp32 (NCHW, reference neurons), as `hardware` loads
    if "model" in shared:
        model.load_state_dict(shared["model"].state_dict())
    net = "trained in part b" if shared.get("trained") else "untrained (part b did not finish)"
    if "model" in shared and not shared.get("trained"):
        net = "partly trained (part b did not finish)"
    model.to(device).eval()
    T, info = run.T, data.info
    fixed, seenn1 = FixedT(T), Seenn1(s.alpha, sweep["accumulate"], sweep["temperature"])
    order = np.random.default_rng(s.seed).permutation(len(data.y_test))  # classes mixed in every subset
    result: dict = {
        "net": net,
        "precision": "fp32 (the engine runs the model's dtype)",
        "alpha": s.alpha,
        "T": T,
        "batches": {},
    }
    sizes = list(s.latency_batch_sizes)
    for i, batch in enumerate(sizes):
        share = (deadline - time.perf_counter()) / (len(sizes) - i)  # what is left, split evenly
        try:
            result["batches"][str(batch)] = latency_at(
                model, data, order, info, T, fixed, seenn1, batch, s, device, time.perf_counter() + share
            )
        except Exception as err:  # noqa: BLE001 (recorded; the other batch sizes still run)
            result["batches"][str(batch)] = {"error": _one_line(err)}
    failed = [b for b, r in result["batches"].items() if "error" in r]
    result["status"] = "ok" if not failed else ("failed" if len(failed) == len(sizes) else "partial")
    if result["status"] == "failed":
        raise RuntimeError("; ".join(f"batch {b}: {result['batches'][b]['error']}" for b in failed))
    return result


def latency_at(model, data, order, info, T, fixed, seenn1, batch, s: Settings, device, deadline) -> dict:
    n = min(len(order), max(s.latency_batches * batch, s.latency_min_samples))
    rows = np.sort(order[:n])
    x_host = torch.from_numpy(data.x_test[rows])
    x = x_host.to(device)  # on the device before any timing
    last: dict = {}

    def engine(name: str, policy, warmup: int) -> float:
        timed = latency(model, x, info, T, policy, batch, device, warmup=warmup, repeats=1)
        last[name] = timed
        return timed.times[0]

    def merged(warmup: int) -> float:  # all T steps in one call per batch, no engine (reference only)
        for _ in range(warmup):
            merged_forward(model, x, info, T, batch)
        return merged_forward(model, x, info, T, batch)

    passes = {
        "fixed": lambda w: engine("fixed", fixed, w),
        "seenn1": lambda w: engine("seenn1", seenn1, w),
        "merged": merged,
    }
    times: dict[str, list[float]] = {name: [] for name in passes}
    round_s = 0.0
    for r in range(s.latency_rounds):
        if r > 0 and deadline - time.perf_counter() <= round_s:
            break
        start = time.perf_counter()
        for name in list(passes) if r % 2 == 0 else list(passes)[::-1]:
            times[name].append(passes[name](1 if r == 0 else 0))
        round_s = time.perf_counter() - start
    t_fixed, t_seenn1 = statistics.median(times["fixed"]), statistics.median(times["seenn1"])
    decision = last["seenn1"].result.decision
    avg_t = decision.avg_timesteps()
    offline = seenn1_exit(
        timestep_logits(model, x_host, lambda b: to_sequence(b, info, T), EVAL_BATCH, device),
        seenn1.alpha, seenn1.accumulate, seenn1.temperature,
    )  # fmt: skip
    labels = data.y_test[rows]

    def policy(name: str, t: float) -> dict:
        r = last[name].result if name in last else None
        return {
            "ms_per_sample": 1e3 * t / n,
            "samples_per_s": n / t,
            "passes_s": times[name],
            **({} if r is None else {
                "accuracy": r.decision.accuracy(labels),
                "avg_timesteps": r.decision.avg_timesteps(),
                "model_calls": r.model_calls,
                "input_steps": r.sample_steps,
            }),
        }  # fmt: skip

    return {
        "samples": n,
        "rounds": len(times["fixed"]),
        "fixed": policy("fixed", t_fixed),
        "seenn1": policy("seenn1", t_seenn1),
        "merged_forward": policy("merged", statistics.median(times["merged"])),
        "avg_T": avg_t,
        "ideal_speedup": T / avg_t,
        "realized_speedup": t_fixed / t_seenn1,
        "ratio": (t_fixed / t_seenn1) / (T / avg_t),
        "engine_equals_offline": {
            "exit_step": float(np.mean(offline.exit_step == decision.exit_step)),
            "prediction": float(np.mean(offline.prediction == decision.prediction)),
        },
    }


# --- markdown -----------------------------------------------------------------------------------------------


def _f(value, spec: str = ".1f", scale: float = 1.0) -> str:
    return NO_VALUE if value is None else format(value * scale, spec)


def _status_line(name: str, part: dict) -> str:
    line = f"{name}: **{part['status']}**"
    if part.get("error"):
        line += f" ({part['error']})"
    return line


def render_markdown(doc: dict) -> str:
    """The summary a maintainer pastes into the README: machine, the three parts' numbers, wall times."""
    m, settings, parts = doc.get("machine", {}), doc["settings"], doc["parts"]
    gpu = m.get("gpu") or f"no GPU ({m.get('device', '?')})"
    lines = [
        f"#### One-shot GPU check: {gpu}",
        "",
        f"`python -m benchmarks.gpu_check` on {doc['started_utc'][:10]}: {gpu}"
        + (f" ({m['gpu_memory_gib']} GiB, driver {m.get('driver') or '?'})" if m.get("gpu") else "")
        + f", torch {m.get('torch', '?')}, CUDA {m.get('cuda') or '—'}, cuDNN {m.get('cudnn') or '—'}, "
        f"commit {str(m.get('git_commit') or '?')[:10]}{' (modified)' if m.get('git_dirty') else ''}"
        + (" — **tiny mode (a test run, not a measurement)**" if settings.get("tiny") else "")
        + ".",
        "",
    ]
    lines += _throughput_md(parts["throughput"]) + _training_md(parts["training"], settings)
    lines += _latency_md(parts["latency"])
    budget = doc["budget"]
    rows = [[name, parts[name]["status"], _f(parts[name].get("box_s"), ".0f"), _f(parts[name].get("wall_s"))]
            for name in PARTS]  # fmt: skip
    lines += [
        "Wall time (s) per part, in a total budget of "
        f"{budget['budget_s']:g} s (elapsed {_f(budget.get('elapsed_s'))} s"
        + (", stopped by the watchdog" if budget.get("stopped_by_watchdog") else "")
        + "):",
        "",
        pipe_table(["part", "status", "box", "wall"], rows),
        "",
    ]
    return "\n".join(lines)


def _throughput_md(part: dict) -> list[str]:
    r = part.get("result")
    if not r:
        return [_status_line("a. Training throughput", part), ""]
    rows = [
        [name, "yes" if p["deterministic"] else "no", _f(p["images_per_s"]), _f(p["vs_reference"], ".2f"),
         ", ".join(f"{t:.2f}" for t in p["epochs_s"]) or NO_VALUE, p["error"] or ""]
        for name, p in r["paths"].items()
    ]  # fmt: skip
    return [
        f"**a. Training throughput** ({part['status']}): {r['model']} width {r['width']:g}, T = {r['T']}, "
        f"batch {r['batch_size']}, {r['input_size']}x{r['input_size']} synthetic images with crop + flip, "
        f"TET loss, the real `fit` loop; median of up to {r['repeats_asked']} timed epochs of "
        f"{r['steps_per_epoch']} steps per path. Fast path / reference: **{_f(r['speedup_fast'], '.2f')}x**; "
        f"deterministic mode costs **{_f(r['deterministic_cost'], '.2f')}x** (fast / fast deterministic).",
        "",
        pipe_table(["path", "deterministic", "images/s", "/ reference", "epochs (s)", "error"], rows),
        "",
    ]


def _training_md(part: dict, settings: dict) -> list[str]:
    r = part.get("result")
    if not r:
        return [_status_line("b. Time-boxed CIFAR-10 training", part), ""]
    run, est, data = r["run"], r["estimate"], r["data"]
    stopped = f" **Stopped early**: {r['stopped_early']}." if r.get("stopped_early") else ""
    fallback = f" The fast path failed ({r['fast_path_error']}); trained on the reference path." if r.get(
        "fast_path_error") else ""  # fmt: skip
    per_t = [
        [
            int(p["T"]),
            _f(p["accuracy"], ".2f", 100),
            f"{100 * p['accuracy_low']:.2f}–{100 * p['accuracy_high']:.2f}",
        ]
        for p in r["accuracy_per_T"]
    ]
    sweep = [[f"{p['alpha']:g}", _f(p["accuracy"], ".2f", 100),
              f"{100 * p['accuracy_low']:.2f}–{100 * p['accuracy_high']:.2f}", _f(p["avg_timesteps"], ".3f")]
             for p in r["seenn1"]]  # fmt: skip
    aet = r["aet"]
    shares = ", ".join(f"t={t}: {100 * v:.1f} %" for t, v in r["exit_shares_at_alpha"].items())
    return [
        f"**b. Time-boxed CIFAR-10 training** ({part['status']}): {data['source']} ({data['train']} train / "
        f"{data['test']} test images, loaded in {data['load_s']:.1f} s); {run['model']} "
        f"width {run['width']:g}, T = {run['T']}, TET ({run['surrogate']} surrogate), SGD lr {run['lr']:g} "
        f"+ cosine over **{run['epochs']} epochs**, batch {run['batch_size']}, crop + flip "
        f"(recipe: {r['recipe']}). Epochs fixed before training from a timed warm-up: "
        f"{est['epoch_s']:.1f} s per epoch estimated ({est['steps_per_epoch']} steps, evaluation "
        f"{est['eval_s']:.1f} s; the first warm-up pass, "
        f"compilation included, took {est['first_pass_s']:.1f} s) for {est['box_left_s']:.0f} s left of the "
        f"{settings['train_s']:g} s box; measured {_f(r.get('epoch_s_median'))} s per epoch (median), "
        f"{r['epochs_done']} epochs in {r['train_s']:.0f} s, so 300 epochs would take about "
        f"**{_f(r.get('projected_300_epochs_h'), '.2f')} h** at this batch size.{stopped}{fallback}",
        "",
        "Test accuracy per T (%, Wilson 95 % interval):",
        "",
        pipe_table(["T", "accuracy", "95 %"], per_t),
        "",
        f"SEENN-I on the saved per-step logits (`{r['logits_file']}`; sum of logits, temperature "
        f"{r['sweep']['temperature']:g}); AET {aet['aet']:.3f} ({aet['aet_low']:.3f}–{aet['aet_high']:.3f}), "
        f"empirical AET {aet['empirical_aet']:.3f}; exits at alpha {settings['alpha']:g}: {shares}:",
        "",
        pipe_table(["alpha", "accuracy", "95 %", "avg T"], sweep),
        "",
    ]


def _latency_md(part: dict) -> list[str]:
    r = part.get("result")
    head = _status_line("c. Early-exit engine latency", part)
    if not r:
        return [head, ""]
    rows = []
    for batch, b in r["batches"].items():
        if "error" in b:
            rows.append([batch, NO_VALUE, NO_VALUE, NO_VALUE, NO_VALUE, NO_VALUE, NO_VALUE, NO_VALUE,
                         NO_VALUE, f"failed: {b['error']}"])  # fmt: skip
            continue
        same = b["engine_equals_offline"]
        rows.append([
            batch, b["samples"], *(_f(b[k]["ms_per_sample"], ".4f") for k in PASSES),
            _f(b["avg_T"], ".3f"), _f(b["ideal_speedup"], ".2f"),
            _f(b["realized_speedup"], ".2f"), _f(b["ratio"], ".2f"),
            f"{100 * same['exit_step']:.2f} % / {100 * same['prediction']:.2f} %",
        ])  # fmt: skip
    return [
        f"**c. Early-exit engine latency** ({part['status']}): net {r['net']}, {r['precision']}, "
        f"fixed T = {r['T']} against SEENN-I at alpha {r['alpha']:g} through `pipeline/hardware/engine.py` "
        f"(median of alternating passes over a seeded random subset of the test set); merged = all T steps "
        f"in one call per batch, no engine. Realized speed-up = fixed / SEENN-I time; ideal = T / avg T.",
        "",
        pipe_table(
            [
                "batch",
                "inputs",
                "fixed ms/input",
                "SEENN-I ms/input",
                "merged ms/input",
                "avg T",
                "ideal",
                "realized",
                "ratio",
                "engine = offline (exits / predictions)",
            ],
            rows,
        ),  # fmt: skip
        "",
    ]


# --- the run ------------------------------------------------------------------------------------------------


def parse_args(argv: list[str] | None = None) -> tuple[Settings, Path]:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", type=Path, required=True, help="folder for gpu_check.json, gpu_check.md, logits")
    p.add_argument(
        "--cifar10-root", help="local CIFAR-10 (torchvision layout or train/, test/ image folders)"
    )
    p.add_argument("--budget-s", type=float, help="the whole run, in seconds (default 480)")
    p.add_argument("--train-s", type=float, help="part b's training box, warm-up included (default 300)")
    p.add_argument("--throughput-s", type=float, help="part a's box (default 80)")
    p.add_argument("--latency-s", type=float, help="part c's box (default 45)")
    p.add_argument("--device", default="auto", help="auto | cuda | cpu")
    p.add_argument(
        "--tiny", action="store_true", help="width 1/16, a few batches, synthetic data: a CPU test"
    )
    p.add_argument("--latency-batch-sizes", help="comma-separated engine batch sizes (default 1,256)")
    p.add_argument("--alpha", type=float, help="SEENN-I threshold of part c and the sweep (default 0.95)")
    p.add_argument("--threads", type=int, help="torch CPU threads (default: torch's; tiny: 1)")
    args = p.parse_args(argv)
    values = Settings.tiny_overrides() if args.tiny else {}
    given = {
        "budget_s": args.budget_s,
        "train_s": args.train_s,
        "throughput_s": args.throughput_s,
        "latency_s": args.latency_s,
        "alpha": args.alpha,
        "threads": args.threads,
        "cifar10_root": args.cifar10_root,
        "latency_batch_sizes": None if args.latency_batch_sizes is None
        else tuple(int(b) for b in args.latency_batch_sizes.split(",")),
    }  # fmt: skip
    values.update({k: v for k, v in given.items() if v is not None})
    return Settings(device=args.device, tiny=args.tiny, **values), args.out


def main(argv: list[str] | None = None) -> int:
    s, out = parse_args(argv)
    out.mkdir(parents=True, exist_ok=True)
    report = Report(out, s)
    deadline = _T0 + s.budget_s - WATCHDOG_MARGIN_S
    watchdog = start_watchdog(report, deadline)
    # Before the first CUDA call: cuBLAS reads this when it makes its first handle, so that the
    # deterministic path of part a is deterministic (it only affects the networks' one linear layer).
    os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", CUBLAS_WORKSPACE)
    if s.threads:
        torch.set_num_threads(s.threads)
    try:
        import torch._dynamo.config as dynamo_config

        for name in ("recompile_limit", "cache_size_limit"):
            if hasattr(dynamo_config, name):
                setattr(dynamo_config, name, max(getattr(dynamo_config, name), DYNAMO_RECOMPILE_LIMIT))
    except ImportError:
        pass
    report.data["environment"] = {
        "CUBLAS_WORKSPACE_CONFIG": os.environ.get("CUBLAS_WORKSPACE_CONFIG"),
        "dynamo_recompile_limit": DYNAMO_RECOMPILE_LIMIT,
        "argv": sys.argv[1:] if argv is None else argv,
    }
    shared: dict = {"out": out}
    try:
        device = resolve_device(s.device)
        report.data["machine"] = machine(device)
    except Exception as err:  # noqa: BLE001 (no device: every part is recorded as failed)
        report.data["machine"] = {"device": s.device, "error": _one_line(err)}
        for name in PARTS:
            report.data["parts"][name].update(status="failed", error=_one_line(err))
        watchdog.cancel()
        report.write(final=True)
        return 1
    report.write()

    def box(requested: float, later: float) -> float:
        return max(0.0, min(requested, deadline - time.perf_counter() - later))

    # Each part's box is cut so that the later parts keep theirs; training may run on, between epochs, up
    # to `hard_end` (when epochs turn out slower than estimated), which still leaves part c its box.
    after_a = s.data_reserve_s + s.train_s + s.eval_reserve_s + s.latency_s
    run_part(report, "throughput", box(s.throughput_s, after_a),
             lambda end: throughput_part(s, device, end))  # fmt: skip
    hard_end = deadline - s.eval_reserve_s - s.latency_s

    def training(end: float) -> dict:
        return training_part(s, device, end, hard_end, shared)

    run_part(report, "training", box(s.data_reserve_s + s.train_s, s.eval_reserve_s + s.latency_s), training)
    run_part(report, "latency", box(s.latency_s, 0.0), lambda end: latency_part(s, device, end, shared))
    watchdog.cancel()
    report.write(final=True)
    log(f"wrote {out / 'gpu_check.json'} and {out / 'gpu_check.md'}:")
    print((out / "gpu_check.md").read_text(), flush=True)
    return 0 if report.data["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
