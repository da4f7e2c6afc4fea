"""SNNCutoff's RCS regulariser (Wu et al., 2025): train the net so that early timesteps already look like
the settled late ones, which lets the Top-K cutoff stop earlier.

Direct training (`rcs_loss`), per spiking layer and sample, as SNNCutoff's code computes it:
    r_t = s_t + relu(u_t / V)         s_t spikes (0/1), u_t membrane after the reset, V threshold
    r_d = mean of r_t over the last int(0.3 T) steps (all T steps when that is 0, i.e. T <= 3), detached
    term = 1 / (mean_t cos(r_t, r_d) + 1e-5)   cosine over the layer's flattened neurons
kept only for samples whose per-step output argmax is correct at every step of that tail; the loss
is the max of the terms over the batch (0 when no sample is kept), averaged over layers. Training adds
`alpha_rcs * rcs_loss(...)` (the paper: alpha_rcs about 0.001-0.005).

Conversion (`rcs_ann_loss`, the released RCSANN idea, our reduction): on the QCFS ANN, per activation layer
and sample, max(relu(x)) over the layer's batch / RMS of the sample's relu(x); same mask (ANN argmax
correct), max over the batch, mean over layers. Spiky activations (a few large, most small) need many
steps to be represented by the converted IF neurons; the ratio penalises them.

Spikes and membranes come from `NeuronRecorder`, which observes every step of each `SpikingNeuron`
(`SpikingNeuron.observe_steps`) while the context is open; the QCFS inputs from `QCFSRecorder`
(forward pre-hooks).
"""

from collections.abc import Sequence
from dataclasses import dataclass, field

import torch
from torch import nn

from pipeline.snn.neurons import SpikingNeuron
from pipeline.snn.qcfs import QCFS

TAIL_FRACTION = 0.3  # share of the last timesteps forming the reference r_d (and the correctness mask)
EPS = 1e-5  # inside the cosine's norms (a silent layer gives cos = 0, not NaN) and in 1 / (cos + EPS)


@dataclass
class LayerRecord:
    """What one call of one spiking layer did, step by step."""

    threshold: float  # V of the layer
    spikes: list[torch.Tensor] = field(default_factory=list)  # per step [N, ...], 0/1 (before IF's * V)
    membranes: list[torch.Tensor] = field(default_factory=list)  # per step [N, ...], after the reset

    def stacked(self) -> tuple[torch.Tensor, torch.Tensor]:
        """`(spikes [T, N, ...], membranes [T, N, ...])`."""
        return torch.stack(self.spikes), torch.stack(self.membranes)


class _Recorder:
    """Base: records are cleared at the start of every forward of `model`, so they always describe the
    latest forward pass (a training step's loss reads them; evaluation passes overwrite them)."""

    def __init__(self, model: nn.Module):
        self.model = model
        self._handles: list = []

    def clear(self) -> None:
        raise NotImplementedError

    def _attach(self) -> None:
        raise NotImplementedError

    def _detach(self) -> None:
        pass

    def __enter__(self) -> "_Recorder":
        self._handles.append(self.model.register_forward_pre_hook(lambda module, args: self.clear()))
        self._attach()
        return self

    def __exit__(self, *exc) -> None:
        for handle in self._handles:
            handle.remove()
        self._handles.clear()
        self._detach()
        self.clear()


class NeuronRecorder(_Recorder):
    """Context manager recording spikes and charged membranes of every `SpikingNeuron` in `model`.

    `layers` holds one `LayerRecord` per neuron call of the latest forward, in call order. While open,
    each neuron's `fire` is shadowed by an instance attribute that records its input and output; closing
    removes it again.
    """

    def __init__(self, model: nn.Module):
        super().__init__(model)
        self.layers: list[LayerRecord] = []
        self._neurons = [m for m in model.modules() if isinstance(m, SpikingNeuron)]
        self._current: dict[int, LayerRecord] = {}
        if not self._neurons:
            raise ValueError("the model has no SpikingNeuron to record")

    def clear(self) -> None:
        self.layers = []
        self._current = {}

    def _start(self, neuron: SpikingNeuron) -> None:
        record = LayerRecord(threshold=float(neuron.threshold))
        self._current[id(neuron)] = record
        self.layers.append(record)

    def _attach(self) -> None:
        for neuron in self._neurons:
            self._handles.append(neuron.register_forward_pre_hook(lambda module, args: self._start(module)))
            self._handles.append(neuron.observe_steps(self._record))

    def _record(
        self, neuron: SpikingNeuron, charged: torch.Tensor, spike: torch.Tensor, reset: torch.Tensor
    ) -> None:
        if id(neuron) not in self._current:  # `step` called outside `forward`
            self._start(neuron)
        record = self._current[id(neuron)]
        record.membranes.append(reset)  # SNNCutoff records the membrane after the reset
        record.spikes.append(spike)


def tail_steps(T: int, fraction: float = TAIL_FRACTION) -> int:
    """Number of last steps forming the reference, as SNNCutoff slices it (`r[-int(fraction * T):]`):
    int(fraction * T), and all T steps when that is 0 (T <= 3 for 30 %)."""
    tail = int(fraction * T)
    return tail if tail > 0 else T


def settled_mask(outputs: torch.Tensor, labels: torch.Tensor, tail: int) -> torch.Tensor:
    """`[N]` float: 1 where each step's own output argmax is correct at every one of the last `tail` steps."""
    correct = outputs[-tail:].argmax(dim=-1) == labels[None, :]  # [tail, N]
    return correct.all(dim=0).to(outputs.dtype).detach()


def rcs_layer_terms(
    spikes: torch.Tensor, membranes: torch.Tensor, threshold: float, tail: int
) -> torch.Tensor:
    """`[N]` RCS term of one layer: 1 / (mean_t cos(r_t, r_d) + EPS).

    Args:
        spikes: `[T, N, ...]` 0/1 spikes.
        membranes: `[T, N, ...]` membrane after the reset (0 where a hard-reset neuron fired).
        threshold: the layer's firing threshold V.
        tail: number of last steps averaged into the (detached) reference r_d.
    """
    r = (spikes + torch.relu(membranes / threshold)).flatten(2)  # [T, N, D]
    r_d = r[-tail:].mean(dim=0).detach()  # [N, D]
    dot = (r * r_d[None]).sum(dim=-1)  # [T, N]
    norms = (r.pow(2).sum(dim=-1) + EPS).sqrt() * (r_d.pow(2).sum(dim=-1) + EPS).sqrt()  # [T, N]
    return 1.0 / ((dot / norms).mean(dim=0) + EPS)


def _masked_max(terms: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Max over the batch of the kept samples' terms (all terms are > 0); 0 when none is kept."""
    return (terms * mask).max()


def rcs_loss(
    outputs: torch.Tensor,
    labels: torch.Tensor,
    recorder: NeuronRecorder | Sequence[LayerRecord],
    tail_fraction: float = TAIL_FRACTION,
) -> torch.Tensor:
    """RCS regulariser of the latest forward pass (direct training).

    Args:
        outputs: that pass's per-step outputs `[T, N, C]`.
        labels: `[N]`.
        recorder: the `NeuronRecorder` open around the pass (or its `layers`).
        tail_fraction: share of the last steps forming the reference and the correctness mask.

    Returns:
        A scalar: mean over layers of the max over kept samples of `rcs_layer_terms`.
    """
    layers = recorder.layers if isinstance(recorder, NeuronRecorder) else list(recorder)
    if not layers:
        raise ValueError("no spiking layer was recorded: run the forward pass inside the recorder")
    T = outputs.shape[0]
    tail = tail_steps(T, tail_fraction)
    mask = settled_mask(outputs, labels, tail)  # [N]
    per_layer = []
    for layer in layers:
        spikes, membranes = layer.stacked()
        if spikes.shape[0] != T:
            raise ValueError(f"a layer recorded {spikes.shape[0]} steps but the outputs have T = {T}")
        per_layer.append(_masked_max(rcs_layer_terms(spikes, membranes, layer.threshold, tail), mask))
    return torch.stack(per_layer).mean()


# --- conversion: the QCFS ANN ---------------------------------------------------------------------------


class QCFSRecorder(_Recorder):
    """Context manager recording the input `[1, N, ...]` of every QCFS activation in the latest forward."""

    def __init__(self, model: nn.Module):
        super().__init__(model)
        self.inputs: list[torch.Tensor] = []
        self._modules = [m for m in model.modules() if isinstance(m, QCFS)]
        if not self._modules:
            raise ValueError("the model has no QCFS activation to record")

    def clear(self) -> None:
        self.inputs = []

    def _attach(self) -> None:
        for module in self._modules:
            hook = module.register_forward_pre_hook(lambda m, args: self.inputs.append(args[0]))
            self._handles.append(hook)


def rcs_ann_layer_terms(x: torch.Tensor) -> torch.Tensor:
    """`[N]`: max of relu(x) over the whole batch / RMS of relu(x) over each sample; x is `[N, ...]`."""
    a = torch.relu(x).flatten(1)  # [N, D]
    return a.max() / (a.pow(2).mean(dim=-1) + EPS).sqrt()


def rcs_ann_loss(outputs: torch.Tensor, labels: torch.Tensor, recorder: QCFSRecorder) -> torch.Tensor:
    """RCS for the QCFS ANN (T = 1 outputs `[1, N, C]`): mean over layers of the max over correctly
    classified samples of `rcs_ann_layer_terms`."""
    if not recorder.inputs:
        raise ValueError("no QCFS activation was recorded: run the forward pass inside the recorder")
    mask = settled_mask(outputs, labels, tail=outputs.shape[0])  # [N]
    # Each recorded input is [1, N, ...]: merge the single step into the batch.
    terms = [_masked_max(rcs_ann_layer_terms(x.flatten(0, 1)), mask) for x in recorder.inputs]
    return torch.stack(terms).mean()
