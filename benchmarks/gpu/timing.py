"""Parts a and c of the GPU check: the training throughput ablation and the early-exit engine's latency
on the net part b trained."""

import statistics
import time
from dataclasses import asdict

import numpy as np
import torch

from benchmarks.early_exit import merged_forward
from benchmarks.gpu.report import _one_line, dynamo_counters
from benchmarks.gpu.settings import Settings
from benchmarks.gpu.training import _default_kernels, recipe, synthetic_cifar
from benchmarks.train_throughput import ablation_paths, time_paths
from pipeline.data.prepared import PreparedData, to_sequence
from pipeline.exits.policies import seenn1_exit
from pipeline.hardware.engine import latency
from pipeline.hardware.rules import FixedT, Seenn1
from pipeline.snn.networks import build_direct_snn
from pipeline.training.feeds import EVAL_BATCH
from pipeline.training.loop import timestep_logits

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
