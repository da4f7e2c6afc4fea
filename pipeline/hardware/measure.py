"""Measure one SNN under several exit policies: latency and throughput with the early-exit engine,
energy from its measured activity, accuracy from the engine's own predictions."""

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from torch import nn

from pipeline.data.prepared import DatasetInfo
from pipeline.hardware.energy import energy_per_image, measure_activity
from pipeline.hardware.engine import latency
from pipeline.hardware.rules import Policy
from pipeline.hardware.rows import HardwareRow


@dataclass(frozen=True, eq=False)
class SnnUnderTest:
    """A trained SNN, its test inputs and what the table says about it."""

    run: str  # run folder name
    model_name: str  # the paper's model name, e.g. "ResNet-19"
    dataset_label: str  # e.g. "digits (sklearn 8x8)"
    method: str  # "direct" or "conversion"
    T: int  # full number of timesteps
    snn: nn.Module  # maps `[t, n, ...]` to `[t, n, K]`
    info: DatasetInfo  # how inputs become per-step inputs
    x: np.ndarray  # test inputs `[N, ...]`
    labels: np.ndarray  # [N] int64


@dataclass(frozen=True)
class OperatingPoint:
    """An exit policy to measure, and how the table names it."""

    policy_name: str  # "fixed", "seenn1" or "seenn2"
    param: float  # T, alpha or beta
    policy: Policy  # what the engine runs
    policy_macs: int = 0  # MACs per image of a policy network run before the SNN (SEENN-II)


def measure_policies(
    target: SnnUnderTest,
    points: Sequence[OperatingPoint],
    batch_size: int = 256,
    device: str = "cpu",
    warmup: int = 1,
    repeats: int = 5,
) -> tuple[list[HardwareRow], pd.DataFrame]:
    """Latency (engine, median of `repeats` timed passes), accuracy, average T and energy per image of
    `target` under each operating point.

    Returns:
        One `HardwareRow` per point, and the per-layer energy of every point (columns run, policy, param
        and those of `pipeline.hardware.energy.LAYER_COLUMNS`).
    """
    target.snn.to(device)
    activity = measure_activity(target.snn, target.x, target.info, target.T, batch_size)
    rows, layers = [], []
    for point in points:
        timed = latency(
            target.snn, target.x, target.info, target.T, point.policy, batch_size, device, warmup, repeats
        )
        decision = timed.result.decision
        energy = energy_per_image(activity, decision.exit_step, point.policy_macs)
        rows.append(
            HardwareRow(
                run=target.run,
                model=target.model_name,
                dataset=target.dataset_label,
                method=target.method,
                T=target.T,
                policy=point.policy_name,
                param=float(point.param),
                accuracy=decision.accuracy(target.labels),
                avg_timesteps=decision.avg_timesteps(),
                latency_ms=1e3 * timed.seconds_per_sample,
                throughput=timed.throughput,
                energy_pj=energy.total_pj,
                mac_pj=energy.mac_pj,
                ac_pj=energy.ac_pj,
                batch_size=batch_size,
                device=device,
                n_test=len(target.labels),
            )
        )
        tagged = energy.layers.assign(run=target.run, policy=point.policy_name, param=float(point.param))
        layers.append(tagged)
    if not layers:
        return rows, pd.DataFrame()
    per_layer = pd.concat(layers, ignore_index=True)
    front = ["run", "policy", "param"]
    return rows, per_layer[front + [c for c in per_layer.columns if c not in front]]
