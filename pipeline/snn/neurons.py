"""Spiking neurons with explicit charge / fire / reset steps.

`forward(x)` always takes a sequence `[T, N, ...]` and returns spikes `[T, N, ...]`.
- stateless (default): every call starts from a fresh membrane, so nothing leaks between batches.
- stateful (`set_stateful(True)`): a call continues from the membrane `self.v` left by the previous call
  and stores the new one, so a net can be run one step at a time (`T = 1` chunks) until `reset()`; the
  batched early-exit engine uses this and may compact `self.v` to the samples still running.

LIF (direct training, TET-style): u = tau * u + I, spike when u >= V, hard reset u = u * (1 - s).
IF (converted nets, QCFS): tau = 1, reset by subtraction u = u - V * s, initial membrane 0.5 * V.

The membrane is always float32: under bf16 autocast the layer's input is cast up and the spikes (0 or
1, exact in bf16) are cast back, so mixed precision never rounds the integration. An LIF with `fused`
set runs its time loop as one autograd node (pipeline/snn/fused_lif.py) when it is not stateful and
nothing observes its steps.

Observers (`observe_steps`) see every step: `(neuron, charged membrane, spike, membrane after reset)`,
each `[N, ...]`; SNNCutoff's RCS regulariser records its inputs this way (pipeline/training/rcs.py).
"""

from collections import OrderedDict
from collections.abc import Callable

import torch
from torch.utils.hooks import RemovableHandle
from torch import nn

from pipeline.snn.fused_lif import fused_lif


class SpikingNeuron(nn.Module):
    """Base class: subclasses define charge, initial state and reset."""

    def __init__(self, threshold: float, spike_fn: Callable[[torch.Tensor], torch.Tensor]):
        super().__init__()
        self.threshold = threshold
        self.spike_fn = spike_fn
        self.stateful = False
        self.v: torch.Tensor | None = None  # carried membrane [N, ...] in stateful mode
        self._observers: OrderedDict[int, StepObserver] = OrderedDict()  # after every step (weakref-able)

    def observe_steps(self, observer: "StepObserver") -> RemovableHandle:
        """Call `observer(neuron, charged, spike, reset)` after every step until the handle is removed."""
        handle = RemovableHandle(self._observers)
        self._observers[handle.id] = observer
        return handle

    @property
    def observed(self) -> bool:
        return bool(self._observers)

    # -- the three named steps -------------------------------------------------------------------
    def charge(self, v: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def fire(self, v: torch.Tensor) -> torch.Tensor:
        return self.spike_fn(v - self.threshold)

    def reset_membrane(self, v: torch.Tensor, spike: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def initial_membrane(self, x: torch.Tensor) -> torch.Tensor:
        return torch.zeros_like(x)

    # -- stepping ----------------------------------------------------------------------------------
    def set_stateful(self, stateful: bool) -> None:
        self.stateful = stateful
        self.v = None

    def reset(self) -> None:
        """Forget the carried membrane state (stateful mode; call between batches)."""
        self.v = None

    def step(self, v: torch.Tensor, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        charged = self.charge(v, x)
        spike = self.fire(charged)
        v = self.reset_membrane(charged, spike)
        for observer in self._observers.values():
            observer(self, charged, spike, v)
        return spike, v

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # x: [T, N, ...]; membrane and spikes in float32, returned in x's dtype
        dtype = x.dtype
        if dtype in (torch.bfloat16, torch.float16):
            x = x.float()
        return self.integrate(x).to(dtype)

    def integrate(self, x: torch.Tensor) -> torch.Tensor:
        v = self.v if (self.stateful and self.v is not None) else self.initial_membrane(x[0])
        spikes = []
        for x_t in x:
            spike, v = self.step(v, x_t)
            spikes.append(spike)
        if self.stateful:
            self.v = v
        return torch.stack(spikes)  # [T, N, ...]


StepObserver = Callable[[SpikingNeuron, torch.Tensor, torch.Tensor, torch.Tensor], None]


class LIF(SpikingNeuron):
    """Leaky integrate-and-fire with hard reset; the reset path is not detached (as in TET/SEENN)."""

    def __init__(self, spike_fn: Callable, tau: float = 0.5, threshold: float = 1.0):
        super().__init__(threshold, spike_fn)
        self.tau = tau
        self.fused = False  # one-node time loop (pipeline/snn/fused_lif.py); set by pipeline.training.speed
        self.compiled = False  # that loop through torch.compile

    def integrate(self, x: torch.Tensor) -> torch.Tensor:
        # the fused loop has no per-step calls, so an observed neuron (RCS) runs the reference loop
        if self.fused and not self.stateful and not self.observed and hasattr(self.spike_fn, "derivative"):
            return fused_lif(x, self.tau, self.threshold, self.spike_fn.derivative, self.compiled)
        return super().integrate(x)

    def charge(self, v: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        return self.tau * v + x

    def reset_membrane(self, v: torch.Tensor, spike: torch.Tensor) -> torch.Tensor:
        return v * (1.0 - spike)

    def extra_repr(self) -> str:
        return f"tau={self.tau}, threshold={self.threshold}"


class IF(SpikingNeuron):
    """Integrate-and-fire for converted nets: reset by subtraction, membrane starts at 0.5 * threshold.

    A spike carries the value `threshold` (the QCFS lambda it replaces), so the next layer receives the
    same scale the ANN's QCFS activation produced.
    """

    def __init__(self, threshold: float | torch.Tensor, initial_fraction: float = 0.5):
        super().__init__(float(threshold), spike_fn=lambda x: (x >= 0).to(x.dtype))
        self.initial_fraction = initial_fraction

    def charge(self, v: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        return v + x

    def initial_membrane(self, x: torch.Tensor) -> torch.Tensor:
        return torch.full_like(x, self.initial_fraction * self.threshold)

    def reset_membrane(self, v: torch.Tensor, spike: torch.Tensor) -> torch.Tensor:
        return v - self.threshold * spike

    def step(self, v: torch.Tensor, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        spike, v = super().step(v, x)
        return spike * self.threshold, v

    def extra_repr(self) -> str:
        return f"threshold={self.threshold:.4g}, initial={self.initial_fraction}"
