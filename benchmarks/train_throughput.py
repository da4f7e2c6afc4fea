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
"""

import argparse
import statistics
import time
from dataclasses import replace

import torch

from pipeline.data.augment import AugmentSpec
from pipeline.core.config import SpeedParams, resolve_device
from pipeline.training.determinism import apply_determinism
from pipeline.data.feed import InMemoryFeed
from pipeline.training.losses import tet_loss
from pipeline.snn.models import build_model
from pipeline.snn.networks import lif_factory
from pipeline.training.speed import Speed, resolve_speed
from pipeline.training.context import Execution, TrainingContext
from pipeline.training.loop import TrainConfig, fit, supervised_task

MEAN_STD = ((0.49, 0.48, 0.45), (0.25, 0.24, 0.26))  # CIFAR-like normalisation of the uint8 images


def _epoch_seconds(
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
    reference, fast = Speed(), resolve_speed(SpeedParams(), device)
    paths = {"reference": reference, "fast": fast}
    if args.ablate:
        for switch in ("amp", "channels_last", "fused_neurons", "data_on_device"):
            paths[f"only_{switch}"] = replace(reference, **{switch: True})
        if device == "cuda" or args.compile:  # inductor on a CPU compiles for minutes per shape
            paths["fused_compiled"] = replace(reference, fused_neurons=True, compile=True)
    deterministic = {name: False for name in paths}
    if args.deterministic:
        paths["fast_deterministic"], deterministic["fast_deterministic"] = fast, True
    print(
        f"device={device} ({torch.cuda.get_device_name() if device == 'cuda' else 'cpu'}, "
        f"{torch.get_num_threads()} threads) model={args.model} width={width:g} T={args.T} "
        f"batch={args.batch_size} input={args.input_size} fast={fast}"
    )
    times: dict[str, list[float]] = {name: [] for name in paths}
    for _ in range(args.epochs):
        for name, speed in paths.items():
            times[name].append(
                _epoch_seconds(
                    args.model,
                    args.T,
                    width,
                    args.input_size,
                    args.batch_size,
                    args.batches,
                    speed,
                    device,
                    deterministic[name],
                )
            )
    images = args.batch_size * args.batches
    ips = {name: images / statistics.median(t) for name, t in times.items()}
    for name, value in ips.items():
        print(f"{name:>22}: {value:9.1f} images/s  (epochs: {', '.join(f'{t:.2f}s' for t in times[name])})")
    print(
        f"model={args.model} T={args.T} baseline_ips={ips['reference']:.1f} fast_ips={ips['fast']:.1f} "
        f"speedup={ips['fast'] / ips['reference']:.2f}"
    )


if __name__ == "__main__":
    main()
