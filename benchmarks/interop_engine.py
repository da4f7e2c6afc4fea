"""The batched early-exit engine and the energy count on a spikingjelly network (docs/interop.md).

A seeded random spikingjelly CNN (conv-LIF-maxpool twice, linear readout; multi-step mode) on random
3x32x32 inputs. Its full-T outputs are recorded offline; SEENN-I's alpha is the median confidence after
T/2 steps unless given, so about half the inputs can stop by then. Then:

1. speed: fixed T against SEENN-I through the engine (`pipeline/hardware/engine.py` with
   `pipeline.interop.stepping.SteppedJelly`), passes alternated, median pass time of each; realized
   speed-up = fixed / SEENN-I time, ideal = T / average exit step; and whether the engine's exits equal
   the offline rule on the recorded outputs.
2. energy: our activity-based count (`pipeline.interop.energy.jelly_activity` -> `energy_per_image`) for
   fixed T and for SEENN-I's exits, and, when the `syops` package imports, its counts for fixed T on the
   same network and inputs, layer by layer.

usage: python benchmarks/interop_engine.py [--samples 1024] [--batch-size 256] [--T 8] [--repeats 5]
       [--threads 1] [--alpha A] [--out reports/benchmarks/interop_engine.json]
       [--energy-out reports/benchmarks/interop_energy.json]
"""

import argparse
import io
import statistics
import sys
from pathlib import Path

import numpy as np
import torch
from torch import nn

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.machine import describe  # noqa: E402
from pipeline.core.atomic import write_json_atomic  # noqa: E402
from pipeline.data.prepared import DatasetInfo  # noqa: E402
from pipeline.exits.policies import seenn1_exit  # noqa: E402
from pipeline.hardware.energy import energy_per_image  # noqa: E402
from pipeline.hardware.engine import latency  # noqa: E402
from pipeline.hardware.rules import FixedT, Seenn1  # noqa: E402
from pipeline.interop.energy import jelly_activity  # noqa: E402
from pipeline.interop.record import record_outputs  # noqa: E402
from pipeline.interop.stepping import SteppedJelly  # noqa: E402

CLASSES, SIZE = 10, 32
GAIN = 4.0  # weights x GAIN: PyTorch's default scale leaves a random net's second LIF layer nearly silent


def build_net(seed: int = 0) -> nn.Module:
    from spikingjelly.activation_based import functional, layer, neuron

    torch.manual_seed(seed)
    net = nn.Sequential(
        layer.Conv2d(3, 16, 3, padding=1),
        neuron.LIFNode(tau=2.0),
        layer.MaxPool2d(2),
        layer.Conv2d(16, 32, 3, padding=1),
        neuron.LIFNode(tau=2.0),
        layer.MaxPool2d(2),
        layer.Flatten(),
        layer.Linear(32 * 8 * 8, CLASSES),
    )
    with torch.no_grad():
        for m in net.modules():
            if isinstance(m, (nn.Conv2d, nn.Linear)):
                m.weight.mul_(GAIN)
    functional.set_step_mode(net, "m")
    return net.eval()


def machine() -> dict:
    return describe(("torch", "spikingjelly", "snntorch", "syops"), threads=torch.get_num_threads())


def engine_speed(net, x, T, alpha, batch_size, repeats) -> dict:
    """Median pass times of fixed T and SEENN-I (alternated, order flipped each round)."""
    info = DatasetInfo("user", "user data", "static", CLASSES, 3, SIZE)
    stepped = SteppedJelly(net)
    policies = {"fixed": FixedT(T), "seenn1": Seenn1(alpha)}
    times, last = {name: [] for name in policies}, {}
    for r in range(repeats + 1):  # round 0 warms up
        for name in list(policies) if r % 2 == 0 else list(policies)[::-1]:
            timed = latency(stepped, x, info, T, policies[name], batch_size, "cpu", warmup=0, repeats=1)
            last[name] = timed.result
            if r:
                times[name].append(timed.times[0])
    t_fixed, t_seenn1 = statistics.median(times["fixed"]), statistics.median(times["seenn1"])
    decision = last["seenn1"].decision
    avg_t = decision.avg_timesteps()
    return {
        "fixed_seconds": times["fixed"],
        "seenn1_seconds": times["seenn1"],
        "fixed_ms_per_sample": 1e3 * t_fixed / len(x),
        "seenn1_ms_per_sample": 1e3 * t_seenn1 / len(x),
        "avg_timesteps": avg_t,
        "ideal_speedup": T / avg_t,
        "realized_speedup": t_fixed / t_seenn1,
        "realized_over_ideal": (t_fixed / t_seenn1) / (T / avg_t),
        "seenn1_model_calls": last["seenn1"].model_calls,
        "seenn1_efficiency": last["seenn1"].efficiency,
    }, decision


def syops_counts(net, x, T, batch_size) -> dict | None:
    """syops' per-image counts over T steps (fixed T), by layer: None when syops does not import."""
    try:
        import syops.engine as syops_engine
        from syops.ops import (
            LIF_syops_counter_hook,
            conv_syops_counter_hook,
            linear_syops_counter_hook,
            pool_syops_counter_hook,
        )
    except ImportError:
        return None
    from spikingjelly.activation_based import functional, layer, neuron

    class Steps(nn.Module):  # one call per batch runs the T steps, as syops' own loop expects
        def __init__(self):
            super().__init__()
            self.net = net

        def forward(self, x_batch):
            return torch.stack([self.net(x_batch) for _ in range(T)]).sum(0)

    # spikingjelly's layer.* subclass torch's layers; syops maps exact types, so name them
    syops_engine.CUSTOM_MODULES_MAPPING = {
        layer.Conv2d: conv_syops_counter_hook,
        layer.Linear: linear_syops_counter_hook,
        layer.MaxPool2d: pool_syops_counter_hook,
        neuron.LIFNode: LIF_syops_counter_hook,
    }
    functional.set_step_mode(net, "s")
    model = syops_engine.add_syops_counting_methods(Steps())
    model.eval()
    model.start_syops_count(ost=io.StringIO(), verbose=False, ignore_list=[])
    try:
        with torch.no_grad():
            for start in range(0, len(x), batch_size):  # syops' loop: a batch, then reset_net
                model(x[start : start + batch_size])
                functional.reset_net(model)
        total, _ = model.compute_average_syops_cost()  # [all, AC, MAC, rate] per image
        images = model.__batch_counter__
        per_layer = {
            name: {"acs": float(m.__syops__[1]) / images, "macs": float(m.__syops__[2]) / images}
            for name, m in net.named_modules()
            if name and hasattr(m, "__syops__")
        }
    finally:
        model.stop_syops_count()
        syops_engine.CUSTOM_MODULES_MAPPING = {}
        functional.set_step_mode(net, "m")
    return {"macs": float(total[2]), "acs": float(total[1]), "per_layer": per_layer}


def energy(net, x, T, decision, batch_size, with_syops: bool) -> dict:
    activity = jelly_activity(net, x, T, batch_size)
    fixed = energy_per_image(activity, np.full(len(x), T))
    early = energy_per_image(activity, decision.exit_step)
    ours = {
        row.layer: {"input": row.input, "ops_per_image": row.ops_per_image, "energy_pj": row.energy_pj}
        for row in fixed.layers.itertuples()
    }
    out = {
        "ours_fixed_T": {
            "mac_pj": fixed.mac_pj,
            "ac_pj": fixed.ac_pj,
            "total_pj": fixed.total_pj,
            "macs": float(fixed.layers.query("input == 'analog'").ops_per_image.sum()),
            "acs": float(fixed.layers.query("input != 'analog'").ops_per_image.sum()),
            "per_layer": ours,
        },
        "ours_seenn1": {
            "mac_pj": early.mac_pj,
            "ac_pj": early.ac_pj,
            "total_pj": early.total_pj,
            "avg_timesteps": early.avg_timesteps,
        },
    }
    counts = syops_counts(net, x, T, batch_size) if with_syops else "skipped (--no-syops)"
    out["syops_fixed_T"] = counts if counts is not None else "syops is not installed"
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=1024)
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--T", type=int, default=8)
    parser.add_argument("--repeats", type=int, default=5, help="timed passes per policy (median)")
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads")
    parser.add_argument("--alpha", type=float, default=None, help="SEENN-I threshold (default: see above)")
    parser.add_argument("--no-syops", action="store_true", help="skip the syops cross-check")
    parser.add_argument("--out", type=Path, default=ROOT / "reports/benchmarks/interop_engine.json")
    parser.add_argument("--energy-out", type=Path, default=ROOT / "reports/benchmarks/interop_energy.json")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    T = args.T
    net = build_net()
    x = torch.rand(args.samples, 3, SIZE, SIZE, generator=torch.Generator().manual_seed(1))
    y = torch.zeros(args.samples, dtype=torch.long)  # labels are not needed for speed or energy
    loader = [
        (x[i : i + args.batch_size], y[i : i + args.batch_size]) for i in range(0, len(x), args.batch_size)
    ]
    logits, _ = record_outputs(net, loader, T)  # [T, N, C] float32
    confidence = torch.softmax(torch.from_numpy(logits.cumsum(0)), -1).amax(-1).numpy()  # [T, N]
    alpha = args.alpha if args.alpha is not None else float(np.round(np.median(confidence[T // 2 - 1]), 6))
    offline = seenn1_exit(logits, alpha)

    speed, decision = engine_speed(net, x, T, alpha, args.batch_size, args.repeats)
    speed["exits_equal_offline"] = float(np.mean(decision.exit_step == offline.exit_step))
    speed["predictions_equal_offline"] = float(np.mean(decision.prediction == offline.prediction))
    common = {
        "machine": machine(),
        "command": " ".join(
            ["python", *[Path(sys.argv[0]).as_posix().split(str(ROOT) + "/")[-1], *sys.argv[1:]]]
        ),
        "network": "spikingjelly 0.0.0.0.14 multi-step: conv3x3(3,16)-LIF-maxpool-conv3x3(16,32)-LIF-maxpool-"
        f"linear(2048,10), seeded random weights x{GAIN:g}, random 3x{SIZE}x{SIZE} inputs",
        "T": T,
        "samples": args.samples,
        "batch_size": args.batch_size,
        "alpha": alpha,
    }
    write_json_atomic(args.out, common | {"speed": speed})
    print(
        f"avg_T={speed['avg_timesteps']:.3f} T={T} ideal_speedup={speed['ideal_speedup']:.3f} "
        f"realized_speedup={speed['realized_speedup']:.3f} ratio={speed['realized_over_ideal']:.3f} "
        f"exits_equal_offline={speed['exits_equal_offline']:.4f}"
    )
    counts = energy(net, x, T, decision, args.batch_size, not args.no_syops)
    write_json_atomic(args.energy_out, common | {"energy": counts})
    ours = counts["ours_fixed_T"]
    print(
        f"energy fixed T: ours {ours['macs']:.0f} MACs + {ours['acs']:.0f} ACs per image = "
        f"{ours['total_pj'] / 1e6:.4f} uJ; SEENN-I {counts['ours_seenn1']['total_pj'] / 1e6:.4f} uJ"
    )
    if isinstance(counts["syops_fixed_T"], dict):
        theirs = counts["syops_fixed_T"]
        print(f"syops fixed T: {theirs['macs']:.0f} MACs + {theirs['acs']:.0f} ACs per image")


if __name__ == "__main__":
    main()
