"""One-shot GPU check: three measurements in one time-boxed run, written as gpu_check.json and gpu_check.md
(a summary, also printed at the end) in `--out`.

a. throughput: the training throughput ablation of benchmarks/train_throughput.py at full width
   (ResNet-19, T = 4, batch 256, synthetic CIFAR-sized data): the reference path, the fast path
   (`speed: auto`), each switch alone, the compiled fused loop, and the fast path in deterministic mode.
b. training: FastVGG at full width, T = 4, trained on CIFAR-10 with the CPU profile's fast recipe
   (profiles/cifar10-cpu.yaml `direct.cifar10-fastvgg-tet`: TET loss with label smoothing, triangle
   surrogate, Nesterov SGD, warm-up + cosine, translate + flip; not its timestep curriculum; batch 256
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

The parts live in benchmarks/gpu/: settings.py (what the check does, its clock), report.py (the JSON and
markdown, the time boxes, the watchdog, the machine), training.py (part b) and timing.py (parts a and c).
"""

# first: the clock the budget counts from (before torch is imported)
import argparse  # noqa: E402
import os  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import torch  # noqa: E402

from benchmarks.gpu.report import Report, _one_line, log, machine, run_part, start_watchdog  # noqa: E402
from benchmarks.gpu.settings import DYNAMO_RECOMPILE_LIMIT, PARTS, T0, WATCHDOG_MARGIN_S, Settings
from benchmarks.gpu.timing import latency_part, throughput_part  # noqa: E402
from benchmarks.gpu.training import training_part  # noqa: E402
from pipeline.core.config import resolve_device  # noqa: E402
from pipeline.training.determinism import CUBLAS_WORKSPACE  # noqa: E402

# the pieces tests/benchmarks/test_gpu_check.py uses
__all__ = ["Report", "Settings", "main", "start_watchdog"]

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
    deadline = T0 + s.budget_s - WATCHDOG_MARGIN_S
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
