"""Energy per image from measured per-layer activity (paper appendix D: 4.6 pJ per MAC, 0.9 pJ per AC).

Counting conventions (stated here so a reader can check every figure):
- Synaptic operations only: the multiply-accumulates or accumulates of each Conv2d / Linear. BatchNorm is
  folded into the preceding weights at inference, biases and neuron updates are not counted.
- A layer whose input is a spiking neuron's output (the same tensor, or a view of it) is spike-driven:
  every nonzero input element (a spike) triggers one accumulate (AC) per synapse it reaches: its real
  fan-out, `C_out / groups` for each kernel position that overlaps the output map (fewer at a padded
  border), `out_features` for a linear layer. IF neurons of converted nets emit the value `threshold`;
  that scale is folded into the next layer's weights once, so such a spike is still one event and one
  AC per synapse.
- A layer whose input is not a neuron's output but holds only non-negative integers on every input
  (spike counts: SEW-ResNet's ADD of two spike tensors gives 0, 1, 2, ...; event-camera frames hold event
  counts; a max-pool of spikes is still 0/1) is event-driven too: a count k is k spikes, so it triggers k
  accumulates per synapse it reaches.
- Any other layer (the first layer on analog pixels, a layer after average pooling or global pooling,
  whose input holds fractions) performs its dense MAC count at every step it runs.
- Each input is charged for its own number of timesteps (its exit step): steps after its exit are not
  counted. SEENN-II adds its policy network, an ANN run once per input, as dense MACs.

The activity is measured with one stateless full-T forward; an input's activity at step t does not
depend on when it exits or on its batch neighbours, so masking steps after each exit gives what the
early-exit engine performs.
"""

import functools
from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F
from torch import nn

from pipeline.data.prepared import DatasetInfo, to_sequence
from pipeline.snn.neurons import SpikingNeuron

E_MAC_PJ = 4.6  # energy of one 32-bit multiply-accumulate (paper appendix D), pJ
E_AC_PJ = 0.9  # energy of one 32-bit accumulate, pJ


@dataclass(frozen=True)
class LayerActivity:
    """What one Conv2d / Linear did for every input and step of a full-T forward."""

    name: str  # module name in the model, e.g. "layers.0.conv1.body.0"
    input_kind: str  # "spikes" (a neuron's output), "counts" (non-negative integers) or "analog"
    dense_ops: int  # MACs per input and step if every input element were used
    input_size: int  # input elements per input and step
    events: np.ndarray  # [T, N] int64 input events per step and input: spikes, or the sum of the counts
    ops: np.ndarray  # [T, N] int64 operations per step and input: dense MACs, or ACs the events trigger

    @property
    def spiking_input(self) -> bool:
        """Event-driven input (spikes or counts): the layer's operations are accumulates."""
        return self.input_kind != "analog"


@functools.lru_cache(maxsize=None)
def _coverage(
    kernel_size: tuple[int, int],
    stride: tuple[int, int],
    padding: tuple[int, int] | str,
    dilation: tuple[int, int],
    height: int,
    width: int,
) -> torch.Tensor:
    """How many output positions' windows contain each input position of a `height x width` map, `[H, W]`
    float64 (kernel-size many in the interior, fewer at a padded border, none for a position a stride
    skips): the gradient of the sum of a ones-kernel convolution with respect to its input."""
    with torch.inference_mode(False), torch.enable_grad():
        x = torch.zeros((1, 1, height, width), dtype=torch.float64, requires_grad=True)
        ones = torch.ones((1, 1, *kernel_size), dtype=torch.float64)
        F.conv2d(x, ones, stride=stride, padding=padding, dilation=dilation).sum().backward()
    return x.grad[0, 0].detach()


def _fan_out_ops(module: nn.Module, events: torch.Tensor) -> torch.Tensor:
    """Accumulates triggered by the input events `[M, ...]` of `module` (1 per spike, k per count k), per
    row `[M]` (exact counts).

    Conv2d: an event at input position (h, w) is accumulated into every output position whose window holds
    it (`_coverage`), in each of its group's `C_out / groups` channels; so the count is the channel-summed
    events weighted by the coverage map, times `C_out / groups`.
    """
    if isinstance(module, nn.Linear):
        return events.flatten(1).sum(dim=1).round().to(torch.long) * module.out_features
    height, width = events.shape[-2:]
    cover = _coverage(module.kernel_size, module.stride, module.padding, module.dilation, height, width)
    per_position = events.to(torch.float64).sum(dim=1)  # [M, H, W]
    counts = (per_position * cover.to(events.device)).sum(dim=(1, 2))  # [M]
    per_group = module.out_channels // module.groups
    return counts.round().to(torch.long) * per_group


@torch.inference_mode()
def measure_activity(
    model: nn.Module, x: torch.Tensor | np.ndarray, info: DatasetInfo, T: int, batch_size: int = 256
) -> list[LayerActivity]:
    """Run `model` for T steps on every input of `x` (in batches) and record each layer's activity.

    Args:
        model: an SNN mapping `[T, n, ...]` to `[T, n, K]`; run in eval mode on its own device and dtype.
        x: inputs `[N, ...]` (static images or event frames, as `to_sequence` expects).
        info: the dataset's description.
        T: steps to run.
        batch_size: inputs per forward.

    Returns:
        One `LayerActivity` per Conv2d / Linear, in module order.
    """
    parameter = next(model.parameters())
    x = torch.as_tensor(x)
    layers = {name: m for name, m in model.named_modules() if isinstance(m, (nn.Conv2d, nn.Linear))}
    spike_outputs: dict[int, torch.Tensor] = {}  # storage address -> neuron output, kept alive (no reuse)
    kinds: dict[str, set[str]] = {name: set() for name in layers}  # the input kind seen in each batch
    sizes: dict[str, tuple[int, int]] = {}  # name -> (dense ops, input elements) per input and step
    events: dict[str, list[torch.Tensor]] = {name: [] for name in layers}  # per batch [T, n]
    event_ops: dict[str, list[torch.Tensor]] = {name: [] for name in layers}  # per batch [T, n]; None: analog
    nonzero_counts: dict[str, list[torch.Tensor]] = {name: [] for name in layers}  # per batch [T, n]
    n_batch = 0

    def on_spikes(module, inputs, output):
        spike_outputs[output.untyped_storage().data_ptr()] = output

    def on_layer(name):
        def hook(module, inputs, output):
            inp = inputs[0]  # [T*n, C, H, W] (merged time) or [T, n, F]
            rows = T * n_batch
            per_step = inp.numel() // rows
            sizes[name] = (output.numel() // rows * module.weight[0].numel(), per_step)
            flat = inp.reshape(rows, *inp.shape[2:] if inp.dim() == 3 else inp.shape[1:])  # [T*n, ...]
            nonzero = flat != 0
            nonzero_counts[name].append(nonzero.flatten(1).sum(dim=1).view(T, n_batch).cpu())
            if inp.untyped_storage().data_ptr() in spike_outputs:
                kind, ev = "spikes", nonzero  # 1 event per spike (an IF spike carries V: folded into weights)
            elif bool(((flat >= 0) & (flat == torch.round(flat))).all()):
                kind, ev = "counts", flat  # a count k is k events
            else:
                kind, ev = "analog", None
            kinds[name].add(kind)
            if ev is None:
                events[name].append(None)
                event_ops[name].append(None)
                return
            events[name].append(ev.flatten(1).sum(dim=1).round().to(torch.long).view(T, n_batch).cpu())
            event_ops[name].append(_fan_out_ops(module, ev).view(T, n_batch).cpu())

        return hook

    handles = [m.register_forward_hook(on_spikes) for m in model.modules() if isinstance(m, SpikingNeuron)]
    handles += [m.register_forward_hook(on_layer(name)) for name, m in layers.items()]
    was_training = model.training
    model.eval()
    try:
        for start in range(0, len(x), batch_size):
            xb = x[start : start + batch_size].to(parameter.device)
            n_batch = len(xb)
            model(to_sequence(xb, info, T).to(parameter.dtype))  # uint8 images are normalised by to_sequence
            spike_outputs.clear()
    finally:
        model.train(was_training)
        for handle in handles:
            handle.remove()
    return [
        _activity(name, kinds[name], sizes[name], events[name], event_ops[name], nonzero_counts[name])
        for name in layers
        if kinds[name]
    ]


def _activity(
    name: str, kinds: set[str], size: tuple[int, int], events: list, event_ops: list, nonzero: list
) -> LayerActivity:
    """One layer's activity from its per-batch records: a neuron's output in every batch is spikes, only
    non-negative integers in every batch are counts, anything else (one analog batch) is analog."""
    kind = "spikes" if kinds == {"spikes"} else "counts" if kinds <= {"spikes", "counts"} else "analog"
    dense, input_size = size
    if kind == "analog":
        ev = torch.cat(nonzero, dim=1)  # [T, N] nonzero inputs, for reference only
        ops = torch.full_like(ev, dense)
    else:
        ev, ops = torch.cat(events, dim=1), torch.cat(event_ops, dim=1)
    events_, ops_ = ev.numpy().astype(np.int64), ops.numpy().astype(np.int64)
    return LayerActivity(name, kind, dense, input_size, events_, ops_)


@dataclass(frozen=True)
class EnergyReport:
    """Energy per image, per layer and in total."""

    layers: pd.DataFrame  # one row per layer (and "policy" for SEENN-II): see `LAYER_COLUMNS`
    avg_timesteps: float  # mean exit step of the inputs

    @property
    def mac_pj(self) -> float:
        return float(self.layers["mac_pj"].sum())

    @property
    def ac_pj(self) -> float:
        return float(self.layers["ac_pj"].sum())

    @property
    def total_pj(self) -> float:
        return self.mac_pj + self.ac_pj


LAYER_COLUMNS = [
    "layer",  # module name, or "policy" (SEENN-II's policy network)
    "input",  # "spikes" or "counts" (accumulates), or "analog" (MACs)
    "dense_ops",  # MACs per input and step if every input element were used
    "firing_rate",  # input events per input element and step, over the steps run (NaN for analog input)
    "ops_per_image",  # operations per image over its own steps (MACs or ACs)
    "mac_pj",  # MAC energy per image, pJ
    "ac_pj",  # AC energy per image, pJ
    "energy_pj",  # mac_pj + ac_pj
]


def energy_per_image(
    activity: list[LayerActivity],
    exit_step: np.ndarray,
    policy_macs: int = 0,
    e_mac: float = E_MAC_PJ,
    e_ac: float = E_AC_PJ,
) -> EnergyReport:
    """Energy per image when input i runs `exit_step[i]` steps (1-based), from measured activity.

    Args:
        activity: from `measure_activity` over at least max(exit_step) steps, the same inputs in order.
        exit_step: `[N]` steps each input runs (fixed T, SEENN-I or SEENN-II exits).
        policy_macs: MACs of SEENN-II's policy network per image (0: no policy).
        e_mac: energy per MAC, pJ.
        e_ac: energy per accumulate, pJ.

    Returns:
        Per-layer operations and energy (pJ per image) and their totals.
    """
    exit_step = np.asarray(exit_step, dtype=np.int64)
    rows = []
    for layer in activity:
        T, N = layer.ops.shape
        if len(exit_step) != N or exit_step.min() < 1 or exit_step.max() > T:
            raise ValueError(f"exit_step must be [N] = [{N}] steps in 1..{T}")
        ran = np.arange(1, T + 1)[:, None] <= exit_step[None, :]  # [T, N] steps each input runs
        ops = float((layer.ops * ran).sum()) / N
        rate = float((layer.events * ran).sum()) / (float(ran.sum()) * layer.input_size)
        mac = 0.0 if layer.spiking_input else ops * e_mac
        ac = ops * e_ac if layer.spiking_input else 0.0
        kind = layer.input_kind
        rate = rate if layer.spiking_input else np.nan
        rows.append((layer.name, kind, layer.dense_ops, rate, ops, mac, ac, mac + ac))
    if policy_macs:
        mac = policy_macs * e_mac
        rows.append(("policy", "analog", policy_macs, np.nan, float(policy_macs), mac, 0.0, mac))
    return EnergyReport(pd.DataFrame(rows, columns=LAYER_COLUMNS), float(exit_step.mean()))
