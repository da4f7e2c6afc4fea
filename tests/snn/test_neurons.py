"""Tests for `pipeline/snn/neurons.py`: LIF / IF dynamics on hand-computed sequences, reset semantics,
stateless vs stateful stepping, and the gradient through the (non-detached) LIF reset."""

import pytest
import torch

from pipeline.snn.neurons import IF, LIF
from pipeline.snn.surrogate import SURROGATES


def _heaviside(x: torch.Tensor) -> torch.Tensor:
    """Plain step function (no surrogate), for forward-only checks."""
    return (x >= 0).to(x.dtype)


def _run_steps(neuron, inputs: list[float]) -> tuple[list[float], list[float]]:
    """Feed a scalar input sequence one step at a time; return (outputs, membranes after reset)."""
    x = torch.tensor(inputs, dtype=torch.float64)
    v = neuron.initial_membrane(x[0])
    spikes, membranes = [], []
    for x_t in x:
        s, v = neuron.step(v, x_t)
        spikes.append(s.item())
        membranes.append(v.item())
    return spikes, membranes


def test_lif_constant_input_hand_sequence():
    """LIF (tau 0.5, V 1, hard reset) with input 0.6: u = 0.6, 0.9, 1.05 -> spike -> 0, repeat."""
    lif = LIF(_heaviside, tau=0.5, threshold=1.0)
    # charge: u = 0.5 * u + 0.6
    #   t1: 0.6          no spike
    #   t2: 0.3 + 0.6 = 0.9   no spike
    #   t3: 0.45 + 0.6 = 1.05 spike, hard reset -> 0
    #   t4..t6 repeat the cycle from 0
    spikes, membranes = _run_steps(lif, [0.6] * 7)
    assert spikes == [0.0, 0.0, 1.0, 0.0, 0.0, 1.0, 0.0]
    assert membranes == pytest.approx([0.6, 0.9, 0.0, 0.6, 0.9, 0.0, 0.6])
    out = lif(torch.full((7, 1), 0.6))  # the multi-step forward gives the same spikes
    assert out[:, 0].tolist() == spikes


def test_lif_varying_input_hand_sequence():
    """LIF with inputs 0.8, 0.7, -0.4, 1.2, 0.1: leak, spike on crossing, hard reset, negative input."""
    lif = LIF(_heaviside, tau=0.5, threshold=1.0)
    #   t1: 0.8                   no spike
    #   t2: 0.4 + 0.7 = 1.1       spike -> 0
    #   t3: 0 - 0.4 = -0.4        no spike
    #   t4: -0.2 + 1.2 = 1.0      spike (u >= V) -> 0
    #   t5: 0 + 0.1 = 0.1         no spike
    spikes, membranes = _run_steps(lif, [0.8, 0.7, -0.4, 1.2, 0.1])
    assert spikes == [0.0, 1.0, 0.0, 1.0, 0.0]
    assert membranes == pytest.approx([0.8, 0.0, -0.4, 0.0, 0.1])


def test_if_constant_input_hand_sequence():
    """IF (threshold 2, u0 = 1, subtraction reset) with input 0.7: spikes of value 2 at t = 2, 5, 8."""
    neuron = IF(threshold=2.0)
    # u0 = 0.5 * 2 = 1.0; charge u = u + 0.7; spike when u >= 2, then u -= 2
    #   t1: 1.7  t2: 2.4 -> spike, 0.4  t3: 1.1  t4: 1.8  t5: 2.5 -> spike, 0.5
    #   t6: 1.2  t7: 1.9  t8: 2.6 -> spike, 0.6
    spikes, membranes = _run_steps(neuron, [0.7] * 8)
    assert spikes == [0.0, 2.0, 0.0, 0.0, 2.0, 0.0, 0.0, 2.0]
    assert membranes == pytest.approx([1.7, 0.4, 1.1, 1.8, 0.5, 1.2, 1.9, 0.6])
    out = neuron(torch.full((8, 1), 0.7, dtype=torch.float64))
    assert out[:, 0].tolist() == spikes
    assert neuron.initial_membrane(torch.zeros(3)).tolist() == [1.0, 1.0, 1.0]


def test_if_initial_fraction_is_configurable():
    """IF with initial_fraction 0 starts at 0: threshold 1, input 0.4 -> u = 0.4, 0.8, 1.2 -> spike, 0.2."""
    neuron = IF(threshold=1.0, initial_fraction=0.0)
    spikes, membranes = _run_steps(neuron, [0.4, 0.4, 0.4, 0.4])
    assert spikes == [0.0, 0.0, 1.0, 0.0]
    assert membranes == pytest.approx([0.4, 0.8, 0.2, 0.6])


def test_reset_semantics_hard_vs_subtraction():
    """A supra-threshold input: LIF's hard reset drops the excess, IF's subtraction reset keeps it."""
    # LIF, V = 1, input 2.5: u = 2.5 -> spike -> 0; next u = 0 + 2.5 -> spike -> 0 (excess 1.5 lost)
    lif = LIF(_heaviside, tau=0.5, threshold=1.0)
    spikes, membranes = _run_steps(lif, [2.5, 0.0, 0.0])
    assert spikes == [1.0, 0.0, 0.0]
    assert membranes == pytest.approx([0.0, 0.0, 0.0])
    # IF, V = 1, u0 = 0.5, input 2.5 then zeros: u = 3.0 -> spike, 2.0 -> spike, 1.0 -> spike, 0.0
    neuron = IF(threshold=1.0)
    spikes, membranes = _run_steps(neuron, [2.5, 0.0, 0.0, 0.0])
    assert spikes == [1.0, 1.0, 1.0, 0.0]
    assert membranes == pytest.approx([2.0, 1.0, 0.0, 0.0])


def test_if_rate_matches_rounded_input_over_threshold():
    """IF with constant input x in [0, V] fires floor(T x / V + 0.5) times in T steps (Bu et al.)."""
    torch.manual_seed(0)
    V, T = 1.5, 16
    x = torch.rand(200, dtype=torch.float64) * V
    out = IF(threshold=V)(x.expand(T, -1))
    counts = out.sum(0) / V
    assert torch.equal(counts, torch.floor(x * T / V + 0.5))


@pytest.mark.parametrize("make", [lambda: LIF(_heaviside), lambda: IF(threshold=0.8)], ids=["LIF", "IF"])
def test_stateless_mode_does_not_leak_between_batches(make):
    """Default stateless mode: a second call equals the same call on a fresh neuron."""
    torch.manual_seed(0)
    a = torch.rand(5, 4, 3) * 2
    b = torch.rand(5, 4, 3) * 2
    neuron = make()
    assert not neuron.stateful
    neuron(a)
    assert neuron.v is None
    assert torch.equal(neuron(b), make()(b))


@pytest.mark.parametrize("make", [lambda: LIF(_heaviside), lambda: IF(threshold=0.8)], ids=["LIF", "IF"])
def test_stateful_single_steps_equal_multistep_call(make):
    """Stateful mode: T chunks of shape [1, N, ...] reproduce one [T, N, ...] call; reset() clears."""
    torch.manual_seed(1)
    x = torch.rand(6, 4, 3) * 2
    full = make()(x)
    neuron = make()
    neuron.set_stateful(True)
    chunks = [neuron(x[t : t + 1]) for t in range(x.shape[0])]
    assert torch.equal(torch.cat(chunks), full)
    assert neuron.v is not None and neuron.v.shape == (4, 3)
    # chunks of uneven length continue the same way
    neuron.reset()
    assert neuron.v is None
    assert torch.equal(torch.cat([neuron(x[:2]), neuron(x[2:5]), neuron(x[5:])]), full)
    # after reset() a new batch starts from the initial membrane
    neuron.reset()
    y = torch.rand(3, 4, 3) * 2
    assert torch.equal(neuron(y), make()(y))
    # set_stateful(False) drops the carried membrane too
    neuron.set_stateful(False)
    assert neuron.v is None and torch.equal(neuron(y), make()(y))


def test_stateful_mode_carries_membrane_between_calls():
    """Stateful LIF: a second call continues from the first call's membrane (0.6 then 0.6 -> 0.9)."""
    lif = LIF(_heaviside, tau=0.5, threshold=1.0)
    lif.set_stateful(True)
    lif(torch.full((1, 1), 0.6))
    assert lif.v.item() == pytest.approx(0.6)
    lif(torch.full((1, 1), 0.6))
    assert lif.v.item() == pytest.approx(0.9)
    assert lif(torch.full((1, 1), 0.6)).item() == 1.0  # 1.05 crosses the threshold
    assert lif.v.item() == 0.0


def test_lif_gradient_flows_through_reset():
    """d s2 / d x1 includes the hard-reset term -u1 * s'(u1 - V) (0 if the reset were detached)."""
    spike_fn = SURROGATES.get("triangle")(gamma=1.0)  # s'(x) = max(0, 1 - |x|)
    lif = LIF(spike_fn, tau=0.5, threshold=1.0)
    x = torch.tensor([[1.2], [0.8]], dtype=torch.float64, requires_grad=True)
    s = lif(x)
    assert s[:, 0].tolist() == [1.0, 0.0]  # u1 = 1.2 spikes; u2 = 0.5 * 0 + 0.8 = 0.8 does not
    # u2 = tau * u1 * (1 - s1) + x2 with u1 = x1, s1 = H(x1 - 1)
    # d s2 / d x1 = s'(u2 - 1) * tau * ((1 - s1) - u1 * s'(u1 - 1))
    #             = s'(-0.2) * 0.5 * (0 - 1.2 * s'(0.2)) = 0.8 * 0.5 * (-1.2 * 0.8) = -0.384
    (g,) = torch.autograd.grad(s[1, 0], x)
    assert g[0, 0].item() == pytest.approx(-0.384)
    assert g[1, 0].item() == pytest.approx(0.8)  # d s2 / d x2 = s'(-0.2)
    # and for the first step alone: d s1 / d x1 = s'(0.2) = 0.8, d s1 / d x2 = 0
    (g1,) = torch.autograd.grad(lif(x)[0, 0], x)
    assert g1[:, 0].tolist() == pytest.approx([0.8, 0.0])
