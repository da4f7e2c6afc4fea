"""The trained networks the hardware stage measures: each run's SNN rebuilt from its params and weights,
its test inputs, and its operating points (fixed T, SEENN-I at the headline alpha, SEENN-II's policy
network from each finetune folder), measured with the batched early-exit engine."""

import json
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from torch import nn

from pipeline.core.config import Params, candidate_steps
from pipeline.core.layout import ann_dir, report_inputs
from pipeline.data.prepared import PreparedData, example_input, load_prepared
from pipeline.hardware.measure import OperatingPoint, SnnUnderTest, measure_policies
from pipeline.hardware.rows import HardwareRow
from pipeline.hardware.rules import FixedT, PolicyNet, Seenn1
from pipeline.seenn2.policy import build_policy, policy_input
from pipeline.snn.convert import convert_qcfs_to_if
from pipeline.snn.models import PAPER_NAMES
from pipeline.snn.networks import build_direct_snn, build_qcfs_ann
from pipeline.snn.opcount import macs_per_input
from pipeline.training.feeds import test_inputs


def _weights(path: Path) -> dict[str, torch.Tensor]:
    if not path.is_file():
        raise FileNotFoundError(f"{path} is missing: run the stage that writes it first")
    return torch.load(path, map_location="cpu", weights_only=True)


def load_snn(run_dir: Path, p: Params, runs: Path) -> tuple[nn.Module, dict, PreparedData]:
    """Rebuild a run's SNN from params + `model.pt`; also return its run.json and prepared data.

    Direct runs: the LIF net of `direct.<run>`. Conversion runs: the QCFS ANN of `conversion.<run>` with
    its trained lambdas (from `ann_dir`), converted to IF neurons, then the run's own weights loaded.
    """
    record_path = run_dir / "run.json"
    if not record_path.is_file():
        raise FileNotFoundError(f"{record_path} is missing: run the training or conversion stage first")
    record = json.loads(record_path.read_text())
    name = record["run"]
    data = load_prepared(Path(record["data_dir"]))
    if record["method"] == "direct":
        if name not in p.direct:
            raise ValueError(f"{record_path}: run {name!r} is not in `direct` of the params")
        snn = build_direct_snn(p.direct[name], data.info)
    else:
        if name not in p.conversion:
            raise ValueError(f"{record_path}: run {name!r} is not in `conversion` of the params")
        ann = build_qcfs_ann(p.conversion[name], data.info)
        ann.load_state_dict(_weights(ann_dir(runs, name) / "model.pt"))
        snn = convert_qcfs_to_if(ann)
    snn.load_state_dict(_weights(run_dir / "model.pt"))
    return snn.eval(), record, data


def evenly_spaced(n: int, keep: int) -> np.ndarray:
    """`[min(keep, n)]` indices spread evenly over 0..n-1 (all of them when keep is 0): on a test set
    sorted by class (image folders) every class keeps its share."""
    if keep == 0 or keep >= n:
        return np.arange(n)
    return np.linspace(0, n - 1, keep).round().astype(np.int64)


def _target(snn: nn.Module, record: dict, data: PreparedData, run: str, keep: int = 0) -> SnnUnderTest:
    x, labels = test_inputs(data)  # ImageNet: one validation image per class
    chosen = evenly_spaced(len(labels), keep)  # hardware.test_inputs
    x, labels = x[chosen], labels[chosen]
    return SnnUnderTest(
        run=run,
        model_name=PAPER_NAMES.get(record["model"], record["model"]),
        dataset_label=data.info.label,
        method=record["method"],
        T=int(record["T"]),
        snn=snn,
        info=data.info,
        x=x,
        labels=labels,
    )


def _seenn2_point(folder: Path, p: Params, runs: Path, device: str) -> tuple[SnnUnderTest, OperatingPoint]:
    """The finetuned SNN of a SEENN-II folder and its policy network as an operating point."""
    meta_path = folder / "seenn2.json"
    if not meta_path.is_file():
        raise FileNotFoundError(f"{meta_path} is missing: run the finetune stage first")
    meta = json.loads(meta_path.read_text())
    base = runs / meta["base_run"]
    snn, record, data = load_snn(base, p, runs)
    snn.load_state_dict(_weights(folder / "model.pt"))  # the finetuned SNN replaces the base weights
    candidates = tuple(meta.get("candidates") or candidate_steps(p.seenn2.candidates, int(record["T"])))
    net = build_policy(len(candidates), data.info, p.seenn2.policy_width, p.seenn2.policy_input_size)
    net.load_state_dict(_weights(folder / "policy.pt"))
    net.eval()
    x0 = example_input(data.info)
    macs = macs_per_input(net, policy_input(x0, data.info, p.seenn2.policy_input_size))["total"]
    policy = PolicyNet(net.to(device), candidates, data.info, p.seenn2.policy_input_size)
    point = OperatingPoint("seenn2", float(meta["beta"]), policy, macs)
    return _target(snn, record, data, meta["base_run"], p.hardware.test_inputs), point


def measure_runs(
    p: Params,
    runs: Path,
    device: str,
    batch_size: int = 256,
    warmup: int = 1,
    repeats: int = 5,
    log: Callable[[str], None] = print,
) -> tuple[list[HardwareRow], pd.DataFrame]:
    """Measure every run the params name (fixed T and SEENN-I at `p.alpha`) and every SEENN-II folder.

    Returns one row per run and operating point, and the per-layer energy of each."""
    rows, layers = [], []
    run_dirs, seenn2_dirs = report_inputs(p, runs)
    for run_dir in run_dirs:
        snn, record, data = load_snn(run_dir, p, runs)
        T = int(record["T"])
        conversion = record["method"] == "conversion"
        temperature = p.sweep.conversion_temperature if conversion else p.sweep.direct_temperature
        points = [
            OperatingPoint("fixed", T, FixedT(T)),
            OperatingPoint("seenn1", p.alpha, Seenn1(p.alpha, p.sweep.accumulate, temperature)),
        ]
        target = _target(snn, record, data, record["run"], p.hardware.test_inputs)
        measured, per_layer = measure_policies(target, points, batch_size, device, warmup, repeats)
        rows += measured
        layers.append(per_layer)
        log(
            f"hardware: {target.run}: " + ", ".join(f"{r.policy} {r.latency_ms:.4f} ms/img" for r in measured)
        )
    for folder in seenn2_dirs:
        target, point = _seenn2_point(folder, p, runs, device)
        measured, per_layer = measure_policies(target, [point], batch_size, device, warmup, repeats)
        rows += measured
        layers.append(per_layer)
        log(
            f"hardware: {folder}: seenn2 {measured[0].latency_ms:.4f} ms/img "
            f"at avg T {measured[0].avg_timesteps:.3f}"
        )
    return rows, (pd.concat(layers, ignore_index=True) if layers else pd.DataFrame())
