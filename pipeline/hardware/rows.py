"""What the hardware stage measures for one operating point (plain data: the report reads it without
torch)."""

from dataclasses import dataclass


@dataclass(frozen=True)
class HardwareRow:
    """One measured operating point: a run under one exit policy."""

    run: str  # run folder name, e.g. "r19"
    model: str  # the paper's model name, e.g. "ResNet-19"
    dataset: str  # dataset label, e.g. "digits (sklearn 8x8)"
    method: str  # "direct" or "conversion"
    T: int  # the run's full number of timesteps
    policy: str  # "fixed", "seenn1" or "seenn2"
    param: float  # T (fixed), alpha (SEENN-I) or beta (SEENN-II)
    accuracy: float  # top-1 accuracy, fraction
    avg_timesteps: float  # mean exit step per image
    latency_ms: float  # test-set inference time / images, ms (median of timed passes)
    throughput: float  # images per second at that median
    energy_pj: float  # energy per image, pJ (MAC + AC, plus the policy network for SEENN-II)
    mac_pj: float  # of which multiply-accumulates (analog inputs, policy network), pJ
    ac_pj: float  # of which accumulates (spike-driven layers), pJ
    batch_size: int  # inputs computed together
    device: str  # "cpu" or "cuda"
    n_test: int = 0  # test inputs measured (the accuracy's sample size)
