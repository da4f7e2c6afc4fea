"""Tests for `pipeline/training/rcs.py`: RCS by hand and on a two-layer LIF net, the recorder, the ANN
variant."""

import math

import numpy as np
import pytest
import torch
from torch import nn

from pipeline.snn.models import build_model
from pipeline.snn.networks import lif_factory
from pipeline.snn.neurons import IF, LIF, SpikingNeuron
from pipeline.snn.qcfs import QCFS
from pipeline.training.rcs import (
    EPS,
    NeuronRecorder,
    QCFSRecorder,
    rcs_ann_layer_terms,
    rcs_ann_loss,
    rcs_layer_terms,
    rcs_loss,
    tail_steps,
)
from pipeline.snn.surrogate import SURROGATES


def _cos(a: list[float], b: list[float]) -> float:
    """Cosine with EPS inside each norm, as the released code (so a silent layer gives 0, not NaN)."""
    dot = sum(x * y for x, y in zip(a, b))
    return dot / (math.sqrt(sum(x * x for x in a) + EPS) * math.sqrt(sum(y * y for y in b) + EPS))


@pytest.mark.parametrize(
    "T, tail", [(1, 1), (2, 2), (3, 3), (4, 1), (6, 1), (7, 2), (8, 2), (10, 3), (20, 6)]
)
def test_tail_is_int_30_percent_of_T_or_all_steps(T, tail):
    """SNNCutoff slices r[-int(0.3 T):]: int(0.3 T) steps, and every step when that is 0 (T <= 3)."""
    assert tail_steps(T) == tail


def test_rcs_equals_snncutoff_on_two_neurons_over_three_steps():
    """The conformance case (worked by hand from SNNCutoff's code): one layer of two LIF neurons (tau 0.5,
    V 1, hard reset), inputs A = [1.5, 0.4, 0.9], B = [0.6, 0.6, -0.2], T = 3, one sample, kept.

    Post-reset membranes: A 0 (fired), 0.4, 0 (fired); B 0.6, 0.9, 0.25; spikes A 1, 0, 1; B 0, 0, 0.
    r_1 = (1, 0.6), r_2 = (0.4, 0.9), r_3 = (1, 0.25); tail = int(0.9) = 0 -> all 3 steps:
    r_d = (0.8, 0.583333); cos = 0.995979, 0.866546, 0.926769; mean 0.929765; L = 1 / (0.929765 + 1e-5)
    = 1.075530. (Pre-reset membranes and a one-step tail, this project's earlier reading: 1.197846.)
    """

    class OneLayer(nn.Module):
        def __init__(self):
            super().__init__()
            self.lif = LIF(SURROGATES.get("triangle")(), tau=0.5, threshold=1.0)

        def forward(self, x):  # x [T, 1, 2] -> outputs [T, 1, 2] (the spikes, as logits that favour A)
            return self.lif(x) + torch.tensor([0.5, 0.0], dtype=x.dtype)

    net = OneLayer().double()
    x = torch.tensor([[1.5, 0.6], [0.4, 0.6], [0.9, -0.2]], dtype=torch.float64)[:, None, :]  # [T, 1, 2]
    with NeuronRecorder(net) as recorder:
        out = net(x)
        spikes, membranes = recorder.layers[0].stacked()
        assert spikes[:, 0].tolist() == [[1.0, 0.0], [0.0, 0.0], [1.0, 0.0]]
        torch.testing.assert_close(
            membranes[:, 0], torch.tensor([[0.0, 0.6], [0.4, 0.9], [0.0, 0.25]], dtype=torch.float64)
        )
        loss = rcs_loss(out, torch.tensor([0]), recorder)
    assert loss.item() == pytest.approx(1.075530, abs=1e-6)


def test_layer_term_by_hand():
    """One sample, two neurons, T = 2, V = 2, reference = the last step.

    r_1 = s_1 + relu(u_1 / V) = [1 + 3/2, 0.5/2] = [2.5, 0.25];  r_2 = [0 + 0.4/2, 0] = [0.2, 0] = r_d.
    """
    spikes = torch.tensor([[[1.0, 0.0]], [[0.0, 0.0]]], dtype=torch.float64)
    membranes = torch.tensor([[[3.0, 0.5]], [[0.4, -0.6]]], dtype=torch.float64)
    r1, r2 = [2.5, 0.25], [0.2, 0.0]
    expected = 1.0 / ((_cos(r1, r2) + _cos(r2, r2)) / 2 + EPS)
    term = rcs_layer_terms(spikes, membranes, threshold=2.0, tail=1)
    assert term.shape == (1,)
    assert term.item() == pytest.approx(expected, rel=1e-12)
    # Reference = mean of both steps when the tail is 2.
    r_d = [(a + b) / 2 for a, b in zip(r1, r2)]
    expected2 = 1.0 / ((_cos(r1, r_d) + _cos(r2, r_d)) / 2 + EPS)
    assert rcs_layer_terms(spikes, membranes, 2.0, tail=2).item() == pytest.approx(expected2, rel=1e-12)


def test_constant_activity_gives_the_minimum_term():
    """r_t equal at every step -> cos = 1 everywhere -> term 1 / (1 + EPS), the smallest possible."""
    spikes = torch.tensor([[[1.0, 0.0, 1.0]]] * 3)
    membranes = torch.tensor([[[1.2, 0.3, 1.0]]] * 3)
    term = rcs_layer_terms(spikes, membranes, 1.0, tail=1)
    assert term.item() == pytest.approx(1.0 / (1.0 + EPS), rel=1e-5)


# --------------------------------------------------------------------------------------------------
# A two-layer LIF net, computed by hand in NumPy.
# --------------------------------------------------------------------------------------------------


class TwoLayer(nn.Module):
    """x [T, N, 2] -> Linear -> LIF -> Linear -> LIF -> Linear -> [T, N, 2]."""

    def __init__(self):
        super().__init__()
        spike_fn = SURROGATES.get("triangle")()
        self.fc1, self.fc2, self.head = nn.Linear(2, 3), nn.Linear(3, 3), nn.Linear(3, 2)
        self.lif1, self.lif2 = LIF(spike_fn, tau=0.5), LIF(spike_fn, tau=0.5)
        with torch.no_grad():
            self.fc1.weight.copy_(torch.tensor([[0.9, -0.2], [0.3, 0.6], [-0.5, 0.8]]))
            self.fc1.bias.copy_(torch.tensor([0.1, 0.2, 0.0]))
            self.fc2.weight.copy_(torch.tensor([[1.0, 0.4, -0.3], [0.2, 0.9, 0.5], [-0.6, 0.3, 1.1]]))
            self.fc2.bias.copy_(torch.tensor([0.3, -0.1, 0.2]))
            self.head.weight.copy_(torch.tensor([[1.0, -1.0, 0.5], [-0.5, 1.0, 0.8]]))
            self.head.bias.copy_(torch.tensor([0.05, -0.05]))

    def forward(self, x):
        return self.head(self.lif2(self.fc2(self.lif1(self.fc1(x)))))


X = np.array([[1.2, 0.4], [0.1, 1.5], [0.9, 0.9]])  # three samples, fed at every step


def _hand_forward(net: TwoLayer, T: int):
    """Per layer, per step: (spikes, membranes after reset) `[T, N, D]`, and the outputs `[T, N, 2]`."""
    W = {k: v.detach().double().numpy() for k, v in net.state_dict().items()}
    layers, h_in = [], np.repeat(X[None], T, axis=0)
    for fc in ("fc1", "fc2"):
        current = h_in @ W[f"{fc}.weight"].T + W[f"{fc}.bias"]
        u, spikes, membranes = np.zeros(current.shape[1:]), [], []
        for t in range(T):
            u = 0.5 * u + current[t]  # charge
            s = (u >= 1.0).astype(float)  # fire
            u = u * (1 - s)  # hard reset
            spikes.append(s)
            membranes.append(u.copy())  # after the reset, as SNNCutoff records it
        layers.append((np.array(spikes), np.array(membranes)))
        h_in = np.array(spikes)
    return layers, h_in @ W["head.weight"].T + W["head.bias"]


def _hand_rcs(layers, outputs, labels, tail):
    keep = (outputs[-tail:].argmax(-1) == labels).all(axis=0)  # [N]
    per_layer = []
    for spikes, membranes in layers:
        r = spikes + np.maximum(membranes, 0.0)  # V = 1
        r_d = r[-tail:].mean(axis=0)
        terms = [
            1.0 / (np.mean([_cos(list(r[t, n]), list(r_d[n])) for t in range(len(r))]) + EPS)
            for n in range(r.shape[1])
        ]
        per_layer.append(max([term for term, k in zip(terms, keep) if k], default=0.0))
    return float(np.mean(per_layer)), keep


# Per-step argmax of this net: samples 0 and 2 alternate 0, 1, 0, 1, ... over t; sample 1 is always 1.
@pytest.mark.parametrize(
    "T, labels, kept",
    [
        (4, [0, 1, 1], [False, True, True]),  # tail = last step; sample 0 (layer 2's max term) is wrong
        (7, [0, 1, 0], [False, True, False]),  # tail = steps 6, 7: samples 0, 2 are right at 7 only
    ],
)
def test_rcs_loss_matches_a_hand_computation_on_a_two_layer_net(T, labels, kept):
    net = TwoLayer().double()
    layers, outputs = _hand_forward(net, T)
    labels = np.array(labels)
    expected, keep = _hand_rcs(layers, outputs, labels, tail_steps(T))
    assert keep.tolist() == kept
    with NeuronRecorder(net) as recorder:
        out = net(torch.from_numpy(np.repeat(X[None], T, axis=0)))
        np.testing.assert_allclose(out.detach().numpy(), outputs, rtol=1e-12)
        assert len(recorder.layers) == 2
        for record, (spikes, membranes) in zip(recorder.layers, layers):
            s, u = record.stacked()
            np.testing.assert_array_equal(s.detach().numpy(), spikes)
            np.testing.assert_allclose(u.detach().numpy(), membranes, rtol=1e-12)
        loss = rcs_loss(out, torch.from_numpy(labels), recorder)
    assert loss.item() == pytest.approx(expected, rel=1e-10)
    loss.backward()
    grads = [p.grad for p in (net.fc1.weight, net.fc2.weight)]
    assert all(g is not None and torch.isfinite(g).all() for g in grads)
    assert any(g.abs().sum() > 0 for g in grads)


def test_no_correct_sample_gives_zero():
    net = TwoLayer().double()
    x = torch.from_numpy(np.repeat(X[None], 4, axis=0))
    with NeuronRecorder(net) as recorder:
        out = net(x)
        wrong = 1 - out[-1].argmax(-1)
        assert rcs_loss(out, wrong, recorder).item() == 0.0


# --------------------------------------------------------------------------------------------------
# The recorder.
# --------------------------------------------------------------------------------------------------


def test_recorder_keeps_only_the_latest_forward_and_restores_the_neurons():
    net = TwoLayer()
    x = torch.rand(3, 5, 2)
    reference = net(x)
    with NeuronRecorder(net) as recorder:
        net(torch.rand(6, 2, 2))
        out = net(x)
        assert len(recorder.layers) == 2
        assert recorder.layers[0].stacked()[0].shape == (3, 5, 3)
        with torch.no_grad():  # evaluation passes are recorded too, and replace the training pass
            net(torch.rand(2, 4, 2))
        assert recorder.layers[0].stacked()[0].shape == (2, 4, 3)
    torch.testing.assert_close(out, reference)  # recording does not change the outputs
    assert recorder.layers == []
    assert all("fire" not in vars(m) for m in net.modules() if isinstance(m, SpikingNeuron))
    with pytest.raises(ValueError, match="SpikingNeuron"):
        NeuronRecorder(nn.Linear(2, 2))


def test_recorder_sees_binary_spikes_of_if_neurons():
    """IF neurons emit spikes of size V; the recorder keeps the 0/1 spike of `fire`."""
    neuron = IF(threshold=2.0)
    x = torch.tensor([[[1.8, 0.1]], [[1.8, 0.1]]])
    with NeuronRecorder(neuron) as recorder:
        out = neuron(x)
        spikes, membranes = recorder.layers[0].stacked()
    # u_1 = 1 + 1.8 = 2.8 -> spike, reset to 0.8; u_2 = 2.6 -> spike, reset to 0.6. Neuron 2: 1.1, 1.2.
    torch.testing.assert_close(out, torch.tensor([[[2.0, 0.0]], [[2.0, 0.0]]]))
    torch.testing.assert_close(spikes, torch.tensor([[[1.0, 0.0]], [[1.0, 0.0]]]))
    torch.testing.assert_close(membranes, torch.tensor([[[0.8, 1.1]], [[0.6, 1.2]]]))  # after the reset


def test_rcs_on_a_registry_model_trains():
    """A small ResNet: one record per LIF layer, a finite loss, gradients into the first convolution."""
    torch.manual_seed(0)
    model = build_model("resnet8", 4, 1, 8, lif_factory("triangle", 0.5), 0.25)
    n_neurons = sum(isinstance(m, SpikingNeuron) for m in model.modules())
    x = torch.rand(4, 6, 1, 8, 8)
    with NeuronRecorder(model) as recorder:
        out = model(x)
        assert len(recorder.layers) == n_neurons
        loss = rcs_loss(out, out[-1].argmax(-1), recorder)  # every sample kept
    assert torch.isfinite(loss) and loss.item() >= 1.0
    loss.backward()
    first = next(p for p in model.parameters() if p.dim() == 4)
    assert first.grad is not None and torch.isfinite(first.grad).all()


# --------------------------------------------------------------------------------------------------
# Conversion variant on the QCFS ANN.
# --------------------------------------------------------------------------------------------------


def test_ann_layer_term_by_hand():
    """relu(x) = [[1, 0, 3], [2, 2, 0]]; batch max 3; per-sample RMS sqrt(10/3), sqrt(8/3)."""
    x = torch.tensor([[1.0, -1.0, 3.0], [2.0, 2.0, 0.0]], dtype=torch.float64)
    expected = [3 / math.sqrt(10 / 3 + EPS), 3 / math.sqrt(8 / 3 + EPS)]
    np.testing.assert_allclose(rcs_ann_layer_terms(x).numpy(), expected, rtol=1e-12)


def test_rcs_ann_loss_on_a_qcfs_net():
    torch.manual_seed(0)
    layers = [nn.Linear(3, 4), QCFS(4, 2.0), nn.Linear(4, 4), QCFS(4, 2.0), nn.Linear(4, 2)]
    net = nn.Sequential(*layers).double()
    x = torch.randn(1, 5, 3, dtype=torch.float64)  # T = 1
    with QCFSRecorder(net) as recorder:
        out = net(x)
        labels = out[0].argmax(-1).clone()
        labels[0] = 1 - labels[0]  # sample 0 left out
        loss = rcs_ann_loss(out, labels, recorder)
    inputs = [net[0](x)[0], net[2](net[1](net[0](x)))[0]]  # [N, 4] into each QCFS, recomputed
    expected = np.mean([rcs_ann_layer_terms(h)[1:].max().item() for h in inputs])
    assert loss.item() == pytest.approx(expected, rel=1e-12)
    loss.backward()
    assert net[0].weight.grad is not None and torch.isfinite(net[0].weight.grad).all()
    assert recorder.inputs == []
