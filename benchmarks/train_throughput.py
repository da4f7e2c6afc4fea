"""Training throughput: images per second of the real training loop (`pipeline.training.loop.fit`), reference
path against fast path, in the same run.

The reference path has every speed switch off: fp32, the neuron's per-timestep Python loop under
autograd, NCHW, batches cut and augmented on the CPU and copied to the device each step. The fast path
is `speed: auto` for the device (pipeline/training/speed.py). Every timed epoch (`--epochs` per path) trains a
fresh model for one warm-up epoch (which also pays torch.compile's compilation) and then one timed
epoch, on a synthetic CIFAR-sized uint8 dataset with the CIFAR recipe's crop and flip and the TET loss;
the paths alternate so that a noisy machine slows all alike, and the median epoch time of each is
compared. `--deterministic` adds the fast path in deterministic mode (its cost); `--ablate` adds one
run per switch (that switch alone on top of the reference path).

usage: python -m benchmarks.train_throughput [--model resnet19] [--T 4] [--batch-size 256] [--width 1]
       [--input-size 32] [--batches 8] [--epochs 3] [--device auto|cpu|cuda] [--ablate [--compile]]
       [--deterministic]
The last line is `model=<m> T=<T> baseline_ips=<a> fast_ips=<b> speedup=<b/a>`.

The pieces are importable (`ablation_paths`, `time_paths` with an optional deadline, `summary_line`):
benchmarks/gpu_check.py runs the same ablation in its time box.
"""

import argparse
import statistics
import time
from dataclasses import dataclass, field, replace

import torch

from pipeline.core.config import SpeedParams, resolve_device
from pipeline.data.augment import AugmentSpec
from pipeline.data.feed import InMemoryFeed
from pipeline.snn.models import build_model
from pipeline.snn.networks import lif_factory
from pipeline.training.context import Execution, TrainingContext
from pipeline.training.determinism import apply_determinism
from pipeline.training.loop import TrainConfig, fit, supervised_task
from pipeline.training.losses import tet_loss
from pipeline.training.speed import Speed, resolve_speed

MEAN_STD = ((0.49, 0.48, 0.45), (0.25, 0.24, 0.26))  # CIFAR-like normalisation of the uint8 images


def epoch_seconds(
    model_name: str,
    T: int,
    width: float,
    size: int,
    batch: int,
    batches: int,
    speed: Speed,
    device: str,
    deterministic: bool,
) -> float:
    """Seconds of one training epoch of `batches` steps (the evaluation pass is 8 images)."""
    apply_determinism(deterministic, device)
    torch.manual_seed(0)
    x = torch.randint(0, 256, (batch * batches, 3, size, size), dtype=torch.uint8)
    y = torch.randint(0, 10, (len(x),))
    mean = torch.tensor(MEAN_STD[0], device=device).view(1, 1, 3, 1, 1)
    std = torch.tensor(MEAN_STD[1], device=device).view(1, 1, 3, 1, 1)

    def encode(xb: torch.Tensor) -> torch.Tensor:  # uint8 [N, 3, H, W] -> normalised [T, N, 3, H, W]
        return ((xb.float() / 255.0).unsqueeze(0).expand(T, *xb.shape) - mean) / std

    model = build_model(model_name, 10, 3, size, lif_factory("triangle", 0.5), width)
    config = TrainConfig(epochs=1, batch_size=batch, lr=0.05, augment=AugmentSpec(shift=4, flip=True))
    train = InMemoryFeed(x, y, batch, config.augment, device, speed.data_on_device)
    test = InMemoryFeed(x[:8], y[:8], 8, device=device, on_device=speed.data_on_device)
    loss = lambda out, labels: tet_loss(out, labels, lam=1e-3)  # noqa: E731
    task = supervised_task(model, loss, encode, test, device, speed)
    ctx = TrainingContext(device=device, execution=Execution(speed=speed))
    fit(task, train, config, ctx)  # warm-up (and compilation)
    if device.startswith("cuda"):
        torch.cuda.synchronize()
    start = time.perf_counter()
    fit(task, train, config, ctx)  # ends with a host read: synchronised
    return time.perf_counter() - start


SWITCHES = ("amp", "channels_last", "fused_neurons", "data_on_device")  # each timed alone with --ablate


def ablation_paths(
    device: str, ablate: bool = False, compile: bool = False, deterministic: bool = False
) -> dict[str, tuple[Speed, bool]]:
    """The paths to time, by name: `(speed switches, deterministic mode)`. Always the reference path (every
    switch off) and the fast path (`speed: auto` for `device`); with `ablate` each switch alone on top of
    the reference (and the compiled fused loop on CUDA, or anywhere with `compile`); with `deterministic`
    the fast path in deterministic mode."""
    reference, fast = Speed(), resolve_speed(SpeedParams(), device)
    paths = {"reference": (reference, False), "fast": (fast, False)}
    if ablate:
        for switch in SWITCHES:
            paths[f"only_{switch}"] = (replace(reference, **{switch: True}), False)
        if device == "cuda" or compile:  # inductor on a CPU compiles for minutes per shape
            paths["fused_compiled"] = (replace(reference, fused_neurons=True, compile=True), False)
    if deterministic:
        paths["fast_deterministic"] = (fast, True)
    return paths


@dataclass
class Timings:
    """What `time_paths` measured: per path, the timed epochs' seconds and the wall time of each whole run
    (fresh model, warm-up epoch, timed epoch); a path that raised (only with `catch`) keeps its error."""

    epochs: dict[str, list[float]] = field(default_factory=dict)
    runs: dict[str, list[float]] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)
    skipped: dict[str, int] = field(default_factory=dict)  # runs not started: the deadline was too near

    def images_per_second(self, images: int) -> dict[str, float]:
        """`images` per median timed epoch, for every path with at least one timed epoch."""
        return {name: images / statistics.median(t) for name, t in self.epochs.items() if t}


def time_paths(
    paths: dict[str, tuple[Speed, bool]],
    epochs: int,
    model: str,
    T: int,
    width: float,
    size: int,
    batch: int,
    batches: int,
    device: str,
    deadline: float | None = None,
    catch: bool = False,
) -> Timings:
    """`epochs` rounds; each round runs `epoch_seconds` once per path, in order, so that a noisy machine
    slows every path alike. With `deadline` (a `time.perf_counter()` value) a run starts only if the time
    left exceeds that path's last run (its first run: if any time is left), so the rounds end near the
    deadline with every path timed at least once when time allows. With `catch`, a path that raises keeps
    its error (first line) and is not run again; otherwise the error propagates."""
    timings = Timings({n: [] for n in paths}, {n: [] for n in paths}, {}, {n: 0 for n in paths})
    for _ in range(epochs):
        for name, (speed, deterministic) in paths.items():
            if name in timings.errors:
                continue
            if deadline is not None:
                needed = timings.runs[name][-1] if timings.runs[name] else 0.0
                if deadline - time.perf_counter() <= needed:
                    timings.skipped[name] += 1
                    continue
            start = time.perf_counter()
            try:
                seconds = epoch_seconds(model, T, width, size, batch, batches, speed, device, deterministic)
            except Exception as err:  # noqa: BLE001 (with catch: recorded, the other paths go on)
                if not catch:
                    raise
                timings.errors[name] = f"{type(err).__name__}: {(str(err).strip() or '-').splitlines()[0]}"
                continue
            timings.epochs[name].append(seconds)
            timings.runs[name].append(time.perf_counter() - start)
    return timings


def summary_line(model: str, T: int, ips: dict[str, float]) -> str:
    """The benchmark's last line: `model=<m> T=<T> baseline_ips=<a> fast_ips=<b> speedup=<b/a>`."""
    return (
        f"model={model} T={T} baseline_ips={ips['reference']:.1f} fast_ips={ips['fast']:.1f} "
        f"speedup={ips['fast'] / ips['reference']:.2f}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="resnet19")
    parser.add_argument("--T", type=int, default=4)
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--width", type=float, default=None, help="default: 1 on CUDA, 1/8 on CPU")
    parser.add_argument("--input-size", type=int, default=32)
    parser.add_argument("--batches", type=int, default=8, help="training steps per timed epoch")
    parser.add_argument("--epochs", type=int, default=3, help="timed epochs per path (median reported)")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--ablate", action="store_true", help="also time each switch alone")
    parser.add_argument(
        "--compile", action="store_true", help="with --ablate on a CPU: also the compiled loop"
    )
    parser.add_argument(
        "--deterministic", action="store_true", help="also the fast path in deterministic mode (its cost)"
    )
    args = parser.parse_args()
    device = resolve_device(args.device)
    width = args.width if args.width is not None else (1.0 if device == "cuda" else 0.125)
    paths = ablation_paths(device, args.ablate, args.compile, args.deterministic)
    fast = paths["fast"][0]
    print(
        f"device={device} ({torch.cuda.get_device_name() if device == 'cuda' else 'cpu'}, "
        f"{torch.get_num_threads()} threads) model={args.model} width={width:g} T={args.T} "
        f"batch={args.batch_size} input={args.input_size} fast={fast}"
    )
    timings = time_paths(
        paths, args.epochs, args.model, args.T, width, args.input_size, args.batch_size, args.batches, device
    )
    ips = timings.images_per_second(args.batch_size * args.batches)
    for name, value in ips.items():
        epochs = ", ".join(f"{t:.2f}s" for t in timings.epochs[name])
        print(f"{name:>22}: {value:9.1f} images/s  (epochs: {epochs})")
    print(summary_line(args.model, args.T, ips))


if __name__ == "__main__":
    main()
