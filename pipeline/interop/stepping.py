"""A spikingjelly network in the batched early-exit engine (`pipeline/hardware/engine.py`).

The engine advances a pool of inputs one timestep per call (`[1, n, ...]` -> `[1, n, K]`) and, when
inputs exit, drops or refills their rows in every stateful neuron's membrane `v [n, ...]`. It finds the
neurons as `SpikingNeuron`s. `SteppedJelly` wraps a spikingjelly network so that it can: each
spikingjelly neuron gets a stand-in `JellyMembrane` (a `SpikingNeuron` that never runs) whose `v` is the
spikingjelly neuron's own `v` (a float before the first step, a tensor `[n, ...]` after), so the engine's
slicing, `index_select` and in-place refills act on the membrane the network really carries.

Only neurons whose one state is `v` (IF, LIF, parametric LIF) can be stepped this way: a neuron with more
state (an adaptive threshold, a synaptic current) would need each of its memories compacted too.
"""

import torch
from torch import nn

from pipeline.snn.neurons import SpikingNeuron


def jelly_neurons(net: nn.Module) -> list[nn.Module]:
    """The spikingjelly neurons of `net` (modules with a `v` memory), in module order."""
    from spikingjelly.activation_based import base

    return [m for m in net.modules() if isinstance(m, base.MemoryModule) and "v" in m._memories]


class JellyMembrane(SpikingNeuron):
    """The engine's handle on one spikingjelly neuron's membrane; not part of any forward pass."""

    def __init__(self, target: nn.Module):
        memories = sorted(target._memories)
        if memories != ["v"]:
            raise ValueError(
                f"{type(target).__name__} carries the state {memories}; the engine can step neurons whose "
                "only state is the membrane v (IF, LIF, parametric LIF)"
            )
        self.__dict__["_target"] = None  # before SpikingNeuron.__init__ sets v (ignored until bound)
        super().__init__(threshold=float(target.v_threshold), spike_fn=torch.heaviside)
        self.__dict__["_target"] = target  # a plain reference: the network owns the module
        reset = target.v_reset
        self.initial = float(reset) if reset is not None else 0.0  # spikingjelly's own starting value

    @property
    def v(self) -> torch.Tensor | None:
        target = self.__dict__["_target"]
        if target is None or not isinstance(target.v, torch.Tensor):
            return None  # before the first step spikingjelly holds a float
        return target.v

    @v.setter
    def v(self, value: torch.Tensor | None) -> None:
        target = self.__dict__["_target"]
        if target is None:
            return
        if value is None:
            target.reset()  # back to the float starting value; the next step sizes it from its input
        else:
            target.v = value

    def initial_membrane(self, x: torch.Tensor) -> torch.Tensor:
        return torch.full_like(x, self.initial)

    def set_stateful(self, stateful: bool) -> None:
        # spikingjelly neurons always carry v between calls; the engine's calls clear it at both ends
        self.stateful = stateful
        self.v = None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        raise RuntimeError("JellyMembrane only exposes a spikingjelly neuron's membrane to the engine")


class SteppedJelly(nn.Module):
    """`net` (spikingjelly, step mode 'm' or 's') as the engine calls a model: `[t, n, ...]` -> `[t, n, K]`
    with the membranes carried between calls."""

    def __init__(self, net: nn.Module):
        super().__init__()
        neurons = jelly_neurons(net)
        if not neurons:
            raise ValueError("the network has no spikingjelly neuron to step")
        modes = {getattr(m, "step_mode", "s") for m in neurons}
        if len(modes) != 1:
            raise ValueError(f"mixed step modes {sorted(modes)}: set one with functional.set_step_mode")
        self.net = net
        self.multi_step = modes == {"m"}
        self.membranes = nn.ModuleList(JellyMembrane(m) for m in neurons)

    def forward(self, x_seq: torch.Tensor) -> torch.Tensor:
        if self.multi_step:
            return self.net(x_seq)  # [t, n, K]
        return torch.stack([self.net(x_t) for x_t in x_seq])  # single step: one call per timestep
