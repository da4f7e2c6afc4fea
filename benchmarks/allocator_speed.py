"""Training speed with glibc's default allocator against freed memory kept for reuse
(`pipeline.core.memory.keep_freed_memory`, which `seenn` sets for every command), in the same run.

The allocator setting holds for a whole process, so each measurement is a child process: the children
alternate (default, kept, default, kept, ...), each pinned as the params pin a run (`--isa`, `--threads`),
and each times SGD steps (forward, backward, Nesterov update) of two FastVGG trainings like the CIFAR-10
CPU profile's on one fixed batch of random CIFAR-sized images, channels-last:
- `tet`: the LIF net (width 0.25 by default) at T = 4 with the TET loss, batch 128;
- `qcfs`: the QCFS ANN (width 0.375, fused activation), batch 256.
Each child reports its median step after one warm-up step; the ratio of the medians over the children of
each allocator is what the setting buys.

usage: python -m benchmarks.allocator_speed [--tet-width 0.25] [--qcfs-width 0.375] [--T 4]
       [--tet-batch 128] [--qcfs-batch 256] [--input-size 32] [--steps 6] [--rounds 2] [--isa avx2]
       [--threads 2] [--out reports/benchmarks/allocator_speed.json]
The last line is `tet_speedup=<x> qcfs_speedup=<y>`.
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

from benchmarks.trained_variants import at_least_one

ALLOCATORS = ("default", "kept")
WORKLOADS = ("tet", "qcfs")


def _step_seconds(workload: str, args: argparse.Namespace) -> float:
    """Median seconds of `args.steps` training steps of `workload` in this process (after a warm-up)."""
    import torch
    import torch.nn.functional as F

    from pipeline.snn.models import build_model
    from pipeline.snn.networks import lif_factory
    from pipeline.snn.qcfs import QCFS
    from pipeline.training.losses import tet_loss
    from pipeline.training.speed import Speed

    torch.manual_seed(0)
    size = args.input_size
    if workload == "tet":
        model = build_model("fastvgg", 10, 3, size, lif_factory("triangle", 0.5), args.tet_width)
        T, batch = args.T, args.tet_batch
        loss_of = lambda out, y: tet_loss(out, y, 0.001, mode="per_step", label_smoothing=0.2)  # noqa: E731
    else:
        model = build_model("fastvgg", 10, 3, size, lambda: QCFS(4, 4.0), args.qcfs_width)
        T, batch = 1, args.qcfs_batch
        loss_of = lambda out, y: F.cross_entropy(out[0], y, label_smoothing=0.2)  # noqa: E731
    speed = Speed(channels_last=True, fused_qcfs=True)
    speed.prepare_model(model)
    opt = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9, nesterov=True)
    g = torch.Generator().manual_seed(0)
    images = speed.prepare_input(torch.randn(T, batch, 3, size, size, generator=g))  # [T, N, C, H, W]
    labels = torch.randint(0, 10, (batch,), generator=g)
    times = []
    for step in range(args.steps + 1):
        start = time.perf_counter()
        loss = loss_of(model(images), labels)
        opt.zero_grad()
        loss.backward()
        opt.step()
        if step:  # step 0 warms up (and, with kept memory, fills the heap once)
            times.append(time.perf_counter() - start)
    return statistics.median(times)


def _child(args: argparse.Namespace) -> None:
    """One measurement process: set the allocator, time each workload, print a JSON line."""
    from pipeline.core.memory import keep_freed_memory

    kept = keep_freed_memory() if args.child == "kept" else False
    if args.child == "kept" and not kept:
        sys.exit("error: this C library takes no allocator setting (keep_freed_memory needs glibc)")
    print(json.dumps({w: _step_seconds(w, args) for w in WORKLOADS}))


def _measure(args: argparse.Namespace, argv: list[str]) -> dict[str, dict[str, list[float]]]:
    """Step seconds per workload and allocator, one entry per child process, the allocators alternating."""
    from pipeline.core.cpu import cpu_env

    env = {**os.environ, **cpu_env(args.isa, args.threads)}
    seconds: dict[str, dict[str, list[float]]] = {w: {a: [] for a in ALLOCATORS} for w in WORKLOADS}
    for _ in range(args.rounds):
        for allocator in ALLOCATORS:
            cmd = [sys.executable, "-m", "benchmarks.allocator_speed", *argv, "--child", allocator]
            proc = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False)
            if proc.returncode:
                sys.exit(proc.stderr.strip().splitlines()[-1] if proc.stderr.strip() else "child failed")
            for workload, value in json.loads(proc.stdout.strip().splitlines()[-1]).items():
                seconds[workload][allocator].append(value)
    return seconds


def main(argv: list[str] | None = None) -> dict | None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tet-width", type=float, default=0.25)
    parser.add_argument("--qcfs-width", type=float, default=0.375)
    parser.add_argument("--T", type=at_least_one, default=4)
    parser.add_argument("--tet-batch", type=at_least_one, default=128)
    parser.add_argument("--qcfs-batch", type=at_least_one, default=256)
    parser.add_argument("--input-size", type=at_least_one, default=32)
    parser.add_argument("--steps", type=at_least_one, default=6)
    parser.add_argument("--rounds", type=at_least_one, default=2)
    parser.add_argument("--isa", choices=("avx2", "native"), default="avx2")
    parser.add_argument("--threads", type=at_least_one, default=2)
    parser.add_argument("--out", type=Path)
    parser.add_argument("--child", choices=ALLOCATORS, help=argparse.SUPPRESS)
    argv = list(argv if argv is not None else sys.argv[1:])
    args = parser.parse_args(argv)
    if args.child:
        _child(args)
        return None
    from benchmarks.machine import describe

    seconds = _measure(args, argv)  # a child returns before it would write --out
    workloads = {}
    for workload, per in seconds.items():
        batch = args.tet_batch if workload == "tet" else args.qcfs_batch
        median = {a: statistics.median(per[a]) for a in ALLOCATORS}
        workloads[workload] = {
            **{
                a: {"step_s": median[a], "images_per_s": batch / median[a], "children_s": per[a]}
                for a in ALLOCATORS
            },
            "speedup": median["default"] / median["kept"],
        }
    result = {
        "tet": {"width": args.tet_width, "T": args.T, "batch_size": args.tet_batch},
        "qcfs": {"width": args.qcfs_width, "batch_size": args.qcfs_batch},
        "input_size": args.input_size,
        "steps": args.steps,
        "rounds": args.rounds,
        "isa": args.isa,
        "workloads": workloads,
        "machine": describe(threads=args.threads),
        "command": "python -m benchmarks.allocator_speed " + " ".join(argv),
    }
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(" ".join(f"{w}_speedup={workloads[w]['speedup']:.2f}" for w in WORKLOADS))
    return result


if __name__ == "__main__":
    main()
