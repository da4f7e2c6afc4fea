"""The training speed switches (params `speed`), resolved for a device and applied to a model.

`auto` turns a switch on where it is meant to help: on CUDA all of them (bf16 autocast, channels-last,
the fused neuron loop compiled with torch.compile, device-held data); on a CPU only device-held data,
which changes nothing there. Measured on a 2-core CPU (benchmarks/train_throughput.py, README "Speed"):
the fused loop is no faster than autograd's per-step loop there, and channels-last and bf16 are faster
but change float rounding, so `auto` keeps the CPU on the reference computation and the embedded
results exactly reproducible; set them to true to trade that for speed. `Speed()` with every switch
off is the reference path.
"""

from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass

import torch
from torch import nn

from pipeline.core.config import SpeedParams
from pipeline.core.execution import speed_switches
from pipeline.snn.neurons import LIF
from pipeline.snn.qcfs import QCFS


@dataclass(frozen=True)
class Speed:
    amp: bool = False  # bf16 autocast of conv/linear (neurons and loss stay fp32)
    channels_last: bool = False  # NHWC frames through the whole network
    fused_neurons: bool = False  # LIF time loop as one autograd node (pipeline/snn/fused_lif.py)
    data_on_device: bool = False  # in-memory datasets moved to the device once (pipeline/data/feed.py)
    compile: bool = False  # torch.compile the fused loop
    fused_qcfs: bool = False  # each QCFS activation as one autograd node (pipeline/snn/qcfs.py)

    @classmethod
    def fast(cls, device: str) -> "Speed":
        """Every switch at its `auto` value for `device`."""
        return resolve_speed(SpeedParams(), device)

    def autocast(self, device: str) -> AbstractContextManager:
        if not self.amp:
            return nullcontext()
        return torch.autocast(device_type=torch.device(device).type, dtype=torch.bfloat16)

    def prepare_model(self, model: nn.Module) -> nn.Module:
        """Set the neuron switches and the memory format on `model` (in place; returned for chaining)."""
        for module in model.modules():
            if isinstance(module, LIF):
                module.fused = self.fused_neurons
                module.compiled = self.fused_neurons and self.compile
            elif isinstance(module, QCFS):
                module.fused = self.fused_qcfs
        if self.channels_last:
            model.to(memory_format=torch.channels_last)
        return model

    def prepare_input(self, x: torch.Tensor) -> torch.Tensor:
        """The model input `[T, N, C, H, W]` with each frame channels-last when that switch is on (a copy
        here, so that merging T into the batch later is a view, not a hidden conversion)."""
        if not self.channels_last or x.dim() != 5:
            return x
        return x.permute(0, 1, 3, 4, 2).contiguous().permute(0, 1, 4, 2, 3)


def resolve_speed(params: SpeedParams, device: str) -> Speed:
    """The switches for `device` (`pipeline.core.execution.speed_switches`: the rule check_params also
    writes into the resolved params)."""
    return Speed(**speed_switches(params, str(torch.device(device))))
