"""Does early exit pay in wall-clock time? Fixed-T against SEENN-I inference through the batched engine.

Loads a trained run from `runs/<run>` (model.pt + params.yaml; default r19). Without a runs
folder it trains a small ResNet-19 on the embedded digits for a few epochs, so it works out of the box.
The test set, repeated to `--samples` inputs, goes through the engine with a fixed T and with SEENN-I at
`--alpha`; the passes alternate (fixed, SEENN-I, fixed, ...) so that a busy machine slows both alike,
and the median pass time of each is compared. It also checks that the engine's exits equal the offline
rule of `pipeline/exits/policies.py` on the full-T logits of the same inputs.

usage: python benchmarks/early_exit.py [--model RUN] [--device cpu|cuda] [--batch-size 256] [--alpha A]
       [--samples N] [--repeats R] [--threads K] [--no-refill] [--compact-min-fraction F] [--train-epochs E]
The last line is `avg_T=<a> T=<T> ideal_speedup=<T/a> realized_speedup=<fixed / SEENN-I> ratio=<r/i>`.
"""

import argparse
import statistics
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch
from torch import nn

from pipeline.core.config import DigitsData, DirectRun
from pipeline.data import DATASETS
from pipeline.data.prepared import DatasetInfo, PreparedData, to_sequence
from pipeline.exits.policies import seenn1_exit
from pipeline.hardware.engine import latency
from pipeline.hardware.rules import FixedT, Seenn1
from pipeline.hardware.runs import load_snn
from pipeline.training.loop import timestep_logits
from pipeline.training.recipes import train_direct
from stages.common import load_params

ROOT = Path(__file__).resolve().parents[1]


def load_or_train(
    run: str, runs: Path, params: Path, train_epochs: int | None = None
) -> tuple[nn.Module, PreparedData, int, float, str]:
    """The run's SNN, its data, T, SEENN-I temperature and a description of where it came from.

    Without `runs/<run>/model.pt` a direct run is trained here (about half a minute on one core): the
    run's settings from `params` when it names a direct run, else a ResNet-19 at width 1/16 and T = 4 on
    the embedded digits (the default profile's `r19`).
    """
    p = load_params(params) if params.is_file() else None
    if (runs / run / "model.pt").is_file() and p is not None:
        snn, record, data = load_snn(runs / run, p, runs)
        conversion = record["method"] == "conversion"
        temperature = p.sweep.conversion_temperature if conversion else p.sweep.direct_temperature
        return snn, data, int(record["T"]), temperature, f"{runs / run}"
    spec = p.direct.get(run) if p is not None else None
    if spec is None:
        spec = DirectRun(dataset="digits", model="resnet19", width=0.0625, T=4, epochs=25, lr=0.1)
    if train_epochs is not None:
        spec = replace(spec, epochs=train_epochs)
    data_config = getattr(p.data, spec.dataset) if p is not None else DigitsData()
    data = DATASETS.get(spec.dataset)(data_config, 0)
    print(
        f"{runs / run}/model.pt not found: training {spec.model} (width {spec.width:g}, T={spec.T}, "
        f"{spec.epochs} epochs) on {data.info.label}"
    )
    snn, _, _ = train_direct(spec, data, 0)  # the default context: CPU
    temperature = p.sweep.direct_temperature if p is not None else 1.0
    return snn, data, spec.T, temperature, f"freshly trained {spec.model} (no {runs / run})"


def repeated(x: np.ndarray, n: int) -> np.ndarray:
    """The first `n` inputs of `x` repeated (at least `x` once)."""
    reps = max(1, -(-n // len(x)))
    return np.concatenate([x] * reps)[: max(n, len(x))]


@torch.inference_mode()
def merged_forward(model: nn.Module, x: torch.Tensor, info: DatasetInfo, T: int, batch_size: int) -> float:
    """Seconds for all T steps in one call per batch (as training and `timestep_logits` run the net)."""
    model.eval()
    dtype = next(model.parameters()).dtype
    sync = torch.cuda.synchronize if x.device.type == "cuda" else (lambda: None)
    sync()
    start = time.perf_counter()
    for begin in range(0, len(x), batch_size):
        model(to_sequence(x[begin : begin + batch_size], info, T).to(dtype))
    sync()
    return time.perf_counter() - start


def alternate_timing(passes: dict[str, Callable[[], float]], repeats: int) -> dict[str, list[float]]:
    """Run each timed pass (it returns its seconds) `repeats` times, alternating between them with the
    order flipped every round, so that a busy machine slows them alike."""
    times: dict[str, list[float]] = {name: [] for name in passes}
    names = list(passes)
    for r in range(repeats):
        for name in names if r % 2 == 0 else names[::-1]:
            times[name].append(passes[name]())
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="r19", help="run folder name under --runs")
    parser.add_argument("--runs", type=Path, default=ROOT / "runs", help="folder of the run folders")
    parser.add_argument("--params", type=Path, default=ROOT / "params.yaml", help="params file of the runs")
    parser.add_argument("--device", choices=("cpu", "cuda"), default="cpu")
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--alpha", type=float, default=0.95, help="SEENN-I confidence threshold")
    parser.add_argument(
        "--samples",
        type=int,
        default=0,
        help="inputs per pass (0: 16 batches, at least the test set once, at most 4096)",
    )
    parser.add_argument("--repeats", type=int, default=7, help="timed passes per policy (median)")
    parser.add_argument(
        "--no-refill",
        action="store_true",
        help="SEENN-I runs each batch until its last input exits (no admission)",
    )
    parser.add_argument(
        "--compact-min-fraction",
        type=float,
        default=0.0,
        help="SEENN-I compacts a pool it cannot refill once this share has finished",
    )
    parser.add_argument(
        "--threads", type=int, default=1, help="torch CPU threads (1: steadier timings on a shared machine)"
    )
    parser.add_argument(
        "--train-epochs", type=int, default=None, help="epochs of the fallback training (no trained run)"
    )
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)

    snn, data, T, temperature, origin = load_or_train(args.model, args.runs, args.params, args.train_epochs)
    info: DatasetInfo = data.info
    samples = args.samples or min(4096, 16 * args.batch_size)
    x = repeated(data.x_test, samples)
    y = repeated(data.y_test, samples)
    fixed, seenn1 = FixedT(T), Seenn1(args.alpha, "sum", temperature)
    print(
        f"model: {origin}; T={T}, temperature={temperature:g}; device={args.device}, "
        f"threads={torch.get_num_threads()}, batch_size={args.batch_size}, samples={len(x)}, "
        f"repeats={args.repeats}, refill={not args.no_refill}, "
        f"compact_min_fraction={args.compact_min_fraction:g}"
    )

    snn.to(args.device)
    x_device = torch.as_tensor(x).to(args.device)  # inputs on the device before timing
    last = {}

    def engine_pass(name: str, policy) -> float:
        timed = latency(
            snn,
            x_device,
            info,
            T,
            policy,
            args.batch_size,
            args.device,
            warmup=0,
            repeats=1,
            compact_min_fraction=args.compact_min_fraction,
            refill=not args.no_refill,
        )
        last[name] = timed
        return timed.times[0]

    run = {
        "fixed": lambda: engine_pass("fixed", fixed),
        "seenn1": lambda: engine_pass("seenn1", seenn1),
        # Reference only: the whole T in one call per batch (stateless neurons, time merged into the batch).
        "merged": lambda: merged_forward(snn, x_device, info, T, args.batch_size),
    }
    for r in run.values():  # warm-up
        r()
    times = alternate_timing(run, args.repeats)
    t_fixed, t_seenn1 = statistics.median(times["fixed"]), statistics.median(times["seenn1"])
    t_merged = statistics.median(times["merged"])

    result = last["seenn1"].result
    # The first copy of the test set, in input order, against the offline rule on full-T logits.
    encode = lambda b: to_sequence(b, info, T)  # noqa: E731
    logits = timestep_logits(snn, torch.from_numpy(data.x_test), encode, args.batch_size, args.device)
    offline = seenn1_exit(logits, args.alpha, "sum", temperature)
    n = len(data.x_test)
    same = np.array_equal(offline.exit_step, result.decision.exit_step[:n]) and np.array_equal(
        offline.prediction, result.decision.prediction[:n]
    )
    avg_t = result.decision.avg_timesteps()
    for name, label, t in (("fixed", "fixed-T", t_fixed), ("seenn1", "SEENN-I", t_seenn1)):
        r = last[name].result
        print(
            f"{label}: {1e3 * t / len(x):.4f} ms/sample, {len(x) / t:,.0f} samples/s, accuracy "
            f"{100 * r.decision.accuracy(y):.2f}%, avg T {r.decision.avg_timesteps():.4f}, "
            f"model calls {r.model_calls}, input-steps {r.sample_steps}"
        )
    print(
        f"pass times (s): fixed {' '.join(f'{t:.3f}' for t in times['fixed'])}; "
        f"SEENN-I {' '.join(f'{t:.3f}' for t in times['seenn1'])}"
    )
    print(
        f"reference, fixed T as one merged-time forward per batch (no engine): "
        f"{1e3 * t_merged / len(x):.4f} "
        f"ms/sample; SEENN-I engine speedup over it: {t_merged / t_seenn1:.3f}"
    )
    print(f"engine exits == pipeline.exits.policies.seenn1_exit on the full-T logits: {same}")
    ideal, realized = T / avg_t, t_fixed / t_seenn1
    print(
        f"avg_T={avg_t:.4f} T={T} ideal_speedup={ideal:.3f} realized_speedup={realized:.3f} "
        f"ratio={realized / ideal:.3f}"
    )


if __name__ == "__main__":
    main()
