"""Activity-based energy (`pipeline/hardware/energy.py`) of a spikingjelly network.

`measure_activity` of the hardware package reads our own networks (time merged into the batch, our
neurons). This module measures the same `LayerActivity` records on a spikingjelly network, by the same
conventions (see `pipeline.hardware.energy`): every Conv2d / Linear is charged, per input and step, one
accumulate per synapse each input spike reaches (its exact fan-out, fewer at a padded border) when its
input is a spikingjelly neuron's output or holds only non-negative integers, and its dense MAC count
otherwise (analog pixels, average-pooled spikes). `energy_per_image` then turns them into pJ per image
for any exit steps.

The network runs in single-step mode, one call per step on `[n, ...]`, so that every layer sees one
step's input and the per-step activity `[T, N]` is read directly; the step mode is restored afterwards.
"""

import numpy as np
import torch
from torch import nn

from pipeline.hardware.energy import LayerActivity, _fan_out_ops
from pipeline.interop.record import time_major
from pipeline.interop.stepping import jelly_neurons


def _input_kind(inp: torch.Tensor, spikes: dict[int, torch.Tensor]) -> str:
    if inp.untyped_storage().data_ptr() in spikes:
        return "spikes"
    if bool(((inp >= 0) & (inp == torch.round(inp))).all()):
        return "counts"  # a count k is k events (a max-pool of spikes, summed spike maps)
    return "analog"


@torch.inference_mode()
def jelly_activity(
    net: nn.Module, x: torch.Tensor, T: int, batch_size: int = 256, inputs: str = "static"
) -> list[LayerActivity]:
    """Each Conv2d / Linear's activity over T steps of every input of `x` (`[N, ...]` static images, or
    `[N, frames, ...]` with `inputs='frames'`), in module order; layers that never ran are left out."""
    from spikingjelly.activation_based import functional

    neurons = jelly_neurons(net)
    if not neurons:
        raise ValueError("the network has no spikingjelly neuron")
    modes = {name: m.step_mode for name, m in net.named_modules() if hasattr(m, "step_mode")}
    layers = {name: m for name, m in net.named_modules() if isinstance(m, (nn.Conv2d, nn.Linear))}
    spikes: dict[int, torch.Tensor] = {}  # storage address -> a neuron's output of this step (kept alive)
    kinds: dict[str, set[str]] = {name: set() for name in layers}
    sizes: dict[str, tuple[int, int]] = {}  # dense MACs and input elements per input and step
    events: dict[str, list] = {name: [] for name in layers}  # per (batch, step): [n] events, None: analog
    ops: dict[str, list] = {name: [] for name in layers}  # per (batch, step): [n] operations
    nonzero: dict[str, list] = {name: [] for name in layers}

    def on_spikes(module, args, output):
        spikes[output.untyped_storage().data_ptr()] = output

    def on_layer(name):
        def hook(module, args, output):
            inp = args[0]  # [n, C, H, W] or [n, F]: one step
            n = inp.shape[0]
            sizes[name] = (output[0].numel() * module.weight[0].numel(), inp[0].numel())
            nonzero[name].append((inp != 0).flatten(1).sum(dim=1).cpu())
            kind = _input_kind(inp, spikes)
            kinds[name].add(kind)
            if kind == "analog":
                events[name].append(None)
                ops[name].append(torch.full((n,), sizes[name][0], dtype=torch.long))
                return
            ev = inp != 0 if kind == "spikes" else inp  # a spike is one event whatever its value
            events[name].append(ev.flatten(1).sum(dim=1).round().to(torch.long).cpu())
            ops[name].append(_fan_out_ops(module, ev).cpu())

        return hook

    handles = [m.register_forward_hook(on_spikes) for m in neurons]
    handles += [m.register_forward_hook(on_layer(name)) for name, m in layers.items()]
    was_training = net.training
    net.eval()
    functional.set_step_mode(net, "s")
    parameter = next(net.parameters())
    try:
        x = torch.as_tensor(x)
        for start in range(0, len(x), batch_size):
            x_seq = time_major(x[start : start + batch_size], T, inputs)  # [T, n, ...]
            functional.reset_net(net)
            for x_t in x_seq:
                net(x_t.to(device=parameter.device, dtype=parameter.dtype))
                spikes.clear()
        functional.reset_net(net)
    finally:
        for handle in handles:
            handle.remove()
        for name, m in net.named_modules():
            if name in modes:
                m.step_mode = modes[name]
        net.train(was_training)
    return [
        _activity(name, kinds[name], sizes[name], events[name], ops[name], nonzero[name], T)
        for name in layers
        if kinds[name]
    ]


def _activity(name, kinds, size, events, ops, nonzero, T) -> LayerActivity:
    """Stack the per-(batch, step) records `[n]` (batch-major, steps inside) into `[T, N]`."""
    kind = "spikes" if kinds == {"spikes"} else "counts" if kinds <= {"spikes", "counts"} else "analog"

    def stacked(parts: list[torch.Tensor]) -> np.ndarray:
        batches = [torch.stack(parts[i : i + T]) for i in range(0, len(parts), T)]  # each [T, n]
        return torch.cat(batches, dim=1).numpy().astype(np.int64)

    dense, input_size = size
    if kind == "analog":
        ev = stacked(nonzero)  # nonzero inputs, for reference only
        op = np.full_like(ev, dense)
    else:
        ev, op = stacked(events), stacked(ops)
    return LayerActivity(name, kind, dense, input_size, ev, op)
