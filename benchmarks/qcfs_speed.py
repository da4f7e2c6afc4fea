"""QCFS training speed: one SGD step of a QCFS ANN (forward, backward, Nesterov update) on the reference
path (the activation as six autograd nodes) against the fused path (one node with a hand-written
backward, speed switch `fused_qcfs`), in the same run.

The two paths alternate step by step on one fixed batch of random CIFAR-sized images (channels-last, as
the CIFAR-10 CPU profile trains), each on its own model from the same seed, and the median step time of
each is compared. Only the activation differs, so the ratio is what the switch buys a QCFS ANN.

usage: python -m benchmarks.qcfs_speed [--model fastvgg] [--width 0.375] [--batch-size 256]
       [--input-size 32] [--steps 10] [--threads 2] [--out reports/benchmarks/qcfs_speed.json]
The last line is `model=<m> reference_ips=<a> fused_ips=<b> speedup=<b/a>`.
"""

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

import torch
from torch import nn

from pipeline.snn.models import build_model
from pipeline.snn.qcfs import QCFS
from pipeline.training.speed import Speed


def _trainer(model_name: str, width: float, size: int, fused: bool):
    """A fresh QCFS model (seed 0) on one speed path, with its Speed and its Nesterov SGD optimiser."""
    torch.manual_seed(0)
    model = build_model(model_name, 10, 3, size, lambda: QCFS(4, 4.0), width)
    speed = Speed(channels_last=True, fused_qcfs=fused)
    speed.prepare_model(model)
    opt = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9, nesterov=True)
    return model, speed, opt


def measure(model_name: str, width: float, batch: int, size: int, steps: int) -> dict:
    """Median seconds per step of each path over `steps` alternating steps (after one warm-up step each)."""
    g = torch.Generator().manual_seed(0)
    images = torch.randn(1, batch, 3, size, size, generator=g)  # [T = 1, N, C, H, W]
    labels = torch.randint(0, 10, (batch,), generator=g)
    paths = {
        "reference": _trainer(model_name, width, size, False),
        "fused": _trainer(model_name, width, size, True),
    }
    inputs = {name: speed.prepare_input(images) for name, (_, speed, _) in paths.items()}
    times: dict[str, list[float]] = {name: [] for name in paths}
    for step in range(steps + 1):
        for name, (model, _, opt) in paths.items():
            start = time.perf_counter()
            loss = nn.functional.cross_entropy(model(inputs[name]).mean(0), labels)
            opt.zero_grad()
            loss.backward()
            opt.step()
            if step:  # step 0 warms both paths up
                times[name].append(time.perf_counter() - start)
    median = {name: statistics.median(t) for name, t in times.items()}
    return {name: {"step_s": median[name], "images_per_s": batch / median[name]} for name in paths}


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default="fastvgg")
    parser.add_argument("--width", type=float, default=0.375)
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--input-size", type=int, default=32)
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    from benchmarks.machine import describe

    paths = measure(args.model, args.width, args.batch_size, args.input_size, args.steps)
    speedup = paths["fused"]["images_per_s"] / paths["reference"]["images_per_s"]
    result = {
        "model": args.model,
        "width": args.width,
        "batch_size": args.batch_size,
        "input_size": args.input_size,
        "steps": args.steps,
        "paths": paths,
        "speedup": speedup,
        "machine": describe(threads=torch.get_num_threads()),
        "command": "python -m benchmarks.qcfs_speed " + " ".join(argv if argv is not None else sys.argv[1:]),
    }
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(result, indent=2) + "\n")
    ref, fused = paths["reference"]["images_per_s"], paths["fused"]["images_per_s"]
    print(f"model={args.model} reference_ips={ref:.1f} fused_ips={fused:.1f} speedup={speedup:.2f}")
    return result


if __name__ == "__main__":
    main()
