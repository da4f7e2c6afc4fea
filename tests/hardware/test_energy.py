"""Tests for `pipeline/hardware/energy.py`: operation counts and pJ on hand-built nets whose spikes are
known."""

import numpy as np
import pytest
import torch
from torch import nn

from pipeline.data.prepared import DatasetInfo, to_sequence
from pipeline.hardware.energy import E_AC_PJ, E_MAC_PJ, _fan_out_ops, energy_per_image, measure_activity
from pipeline.snn.models import build_model
from pipeline.snn.models.layers import MergeTime
from pipeline.snn.networks import lif_factory
from pipeline.snn.neurons import IF
from pipeline.snn.opcount import macs_per_input

T = 4
VECTOR = DatasetInfo("toy", "toy vectors", "static", 2, 4, 1)  # inputs [N, 4]: repeated at every step
SPIKE = lif_factory("triangle", 0.5)


class TwoLayer(nn.Module):
    """fc1 (analog input: MACs) -> LIF -> fc2 (spike input: ACs); `[T, N, 4]` -> `[T, N, 2]`."""

    def __init__(self):
        super().__init__()
        self.fc1 = nn.Linear(4, 3, bias=False)
        self.act = SPIKE()
        self.fc2 = nn.Linear(3, 2)
        with torch.no_grad():
            self.fc1.weight.copy_(torch.eye(3, 4))  # neuron j receives input j

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc2(self.act(self.fc1(x)))


def test_two_layer_net_energy_by_hand():
    """LIF (u = 0.5 u + I, V = 1, hard reset) with constant inputs 2.0, 0.6, 0.0 per neuron:
    neuron 0 fires at every step (u = 2); neuron 1 charges 0.6, 0.9, 1.05 -> fires at t = 3, then 0.6;
    neuron 2 never fires. Spikes per step: 1, 1, 2, 1."""
    x = np.array([[2.0, 0.6, 0.0, 5.0], [2.0, 0.6, 0.0, 5.0]], dtype=np.float32)  # input 3 feeds nothing
    activity = measure_activity(TwoLayer(), x, VECTOR, T)
    fc1, fc2 = activity
    assert (fc1.name, fc1.spiking_input, fc1.dense_ops) == ("fc1", False, 12)
    assert (fc2.name, fc2.spiking_input, fc2.dense_ops) == ("fc2", True, 6)
    np.testing.assert_array_equal(fc2.events[:, 0], [1, 1, 2, 1])

    exit_step = np.array([3, 4])  # the first input stops after 3 steps, the second runs all 4
    report = energy_per_image(activity, exit_step)
    # fc1: 12 MACs per step: (3 + 4) steps / 2 images; fc2: 2 ACs per spike: (1+1+2) and (1+1+2+1) spikes.
    mac_ops, ac_ops = 12 * (3 + 4) / 2, 2 * (4 + 5) / 2
    assert report.mac_pj == pytest.approx(mac_ops * 4.6)
    assert report.ac_pj == pytest.approx(ac_ops * 0.9)
    assert report.total_pj == pytest.approx(193.2 + 8.1)  # 42 MACs x 4.6 pJ + 9 ACs x 0.9 pJ
    rows = report.layers.set_index("layer")
    assert rows.loc["fc1", "input"] == "analog" and np.isnan(rows.loc["fc1", "firing_rate"])
    assert rows.loc["fc2", "firing_rate"] == pytest.approx((4 + 5) / (7 * 3))  # spikes / (steps run x 3)
    assert report.avg_timesteps == 3.5


def test_policy_network_adds_its_macs():
    activity = measure_activity(TwoLayer(), np.ones((1, 4), dtype=np.float32), VECTOR, T)
    without = energy_per_image(activity, np.array([2]))
    with_policy = energy_per_image(activity, np.array([2]), policy_macs=1000)
    assert with_policy.total_pj - without.total_pj == pytest.approx(1000 * E_MAC_PJ)
    assert with_policy.layers["layer"].iloc[-1] == "policy"


class SpikeThenConv(nn.Module):
    """neuron -> 3x3 conv (padding 1): `[T, N, 1, 4, 4]` -> `[T, N, 3 * 16]`."""

    def __init__(self, neuron: nn.Module):
        super().__init__()
        self.act = neuron
        self.conv = MergeTime(nn.Conv2d(1, 3, 3, padding=1, bias=False))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(self.act(x)).flatten(2)


@pytest.mark.parametrize("position,fan_out", [((0, 0), 4), ((0, 2), 6), ((1, 2), 9)])
def test_conv_accumulates_count_the_real_fan_out(position, fan_out):
    """One spike at a corner reaches 2x2 output positions, at an edge 2x3, inside 3x3; each of them
    feeds all 3 output channels."""
    image = np.zeros((1, 1, 4, 4), dtype=np.float32)
    image[0, 0, position[0], position[1]] = 2.0  # fires at every step (u = 2 >= 1, hard reset)
    info = DatasetInfo("toy", "toy", "static", 48, 1, 4)
    (conv,) = measure_activity(SpikeThenConv(SPIKE()), image, info, T)
    assert conv.spiking_input and conv.dense_ops == 16 * 3 * 9
    np.testing.assert_array_equal(conv.events[:, 0], [1] * T)
    np.testing.assert_array_equal(conv.ops[:, 0], [3 * fan_out] * T)
    assert energy_per_image([conv], np.array([2])).ac_pj == pytest.approx(2 * 3 * fan_out * E_AC_PJ)


@pytest.mark.parametrize(
    "stride,padding,dilation,groups", [(1, 0, 1, 1), (2, 1, 1, 1), (2, 1, 2, 2), (3, 2, 1, 4), (1, 1, 3, 1)]
)
def test_fan_out_matches_counting_every_synapse(stride, padding, dilation, groups):
    """The coverage-map count equals the definition, summed synapse by synapse: for every output channel
    and position, each kernel tap that lands on an event in its group's input channels is k accumulates
    for a count k (taps on padding or outside the map are none)."""
    rng = np.random.default_rng(0)
    conv = nn.Conv2d(4, 8, 3, stride=stride, padding=padding, dilation=dilation, groups=groups, bias=False)
    events = torch.as_tensor(rng.integers(0, 3, size=(2, 4, 7, 6)), dtype=torch.float32)  # [M, C, H, W]
    out_h, out_w = conv(events).shape[-2:]
    per_group_in, per_group_out = 4 // groups, 8 // groups
    expected = np.zeros(2, dtype=np.int64)
    for m, o, i, j, a, b in np.ndindex(2, 8, out_h, out_w, 3, 3):
        h, w = i * stride - padding + a * dilation, j * stride - padding + b * dilation
        if 0 <= h < 7 and 0 <= w < 6:
            group = o // per_group_out
            expected[m] += int(events[m, group * per_group_in : (group + 1) * per_group_in, h, w].sum())
    np.testing.assert_array_equal(_fan_out_ops(conv, events).numpy(), expected)


def test_if_spikes_of_value_threshold_are_one_event_each():
    """IF neurons emit the value `threshold` (here 0.25): still one event and one AC per synapse."""
    image = np.zeros((1, 1, 4, 4), dtype=np.float32)
    image[0, 0, 1, 1] = 0.25  # u0 = 0.125; charges 0.25 per step -> fires at every step
    info = DatasetInfo("toy", "toy", "static", 48, 1, 4)
    (conv,) = measure_activity(SpikeThenConv(IF(threshold=0.25)), image, info, T)
    np.testing.assert_array_equal(conv.events[:, 0], [1] * T)
    np.testing.assert_array_equal(conv.ops[:, 0], [27] * T)


def test_dense_counts_match_opcount_on_a_real_model():
    torch.manual_seed(0)
    info = DatasetInfo("digits", "digits", "static", 10, 1, 8)
    model = build_model("resnet8", 10, 1, 8, SPIKE, width=0.25).eval()
    x = np.random.default_rng(0).random((3, 1, 8, 8)).astype(np.float32)
    activity = measure_activity(model, x, info, 2)
    macs = macs_per_input(model, to_sequence(torch.from_numpy(x[:1]), info, 1))
    assert {a.name: a.dense_ops for a in activity} == {k: v for k, v in macs.items() if k != "total"}
    kinds = {a.name: a.input_kind for a in activity}
    assert kinds["stem.body.0"] == "analog"  # pixels
    assert kinds["layers.0.conv1.body.0"] == "spikes"  # of the stem neuron
    # the global average of spikes is analog, unless the last layer was silent on every input (then 0 ACs)
    head = next(a for a in activity if a.name == "head.fc")
    assert head.input_kind == "analog" or (head.input_kind == "counts" and (head.ops == 0).all())
    for a in activity:  # spike-driven layers never do more than the dense count
        assert a.input_kind == "analog" or (a.ops <= a.dense_ops).all()


def test_exit_steps_out_of_range_are_rejected():
    activity = measure_activity(TwoLayer(), np.ones((2, 4), dtype=np.float32), VECTOR, T)
    with pytest.raises(ValueError):
        energy_per_image(activity, np.array([1, 5]))
    with pytest.raises(ValueError):
        energy_per_image(activity, np.array([1]))


# --- event multiplicity: SEW-ResNet's ADD of spikes, event-camera counts ---------------------------------


class CountsThenLayer(nn.Module):
    """Feeds a fixed non-negative integer input straight into one layer (no neuron in between)."""

    def __init__(self, layer: nn.Module):
        super().__init__()
        self.layer = layer

    def forward(self, x):  # x [T, n, ...]
        return self.layer(x.flatten(0, 1)).unflatten(0, x.shape[:2])


@pytest.mark.parametrize(
    "layer, count, acs, pj",
    [
        # Linear(3 -> 2) fed [2, 0, 1]: (2 + 0 + 1) events x 2 synapses = 6 ACs = 5.4 pJ (counting nonzeros
        # only would give 4 ACs; dense MACs would give 6 MACs = 27.6 pJ).
        (nn.Linear(3, 2), [[2.0, 0.0, 1.0]], 6, 5.4),
        # Conv2d(1 -> 2, 1x1) on the map [[2, 1]]: (2 + 1) x 2 channels = 6 ACs = 5.4 pJ (dense: 4 MACs).
        (nn.Conv2d(1, 2, 1, bias=False), [[[[2.0, 1.0]]]], 6, 5.4),
        # Conv2d(1 -> 1, 3x3, padding 1) on a 3x3 map with 3 at the centre: each event reaches 9 outputs.
        (nn.Conv2d(1, 1, 3, padding=1, bias=False), [[[[0, 0, 0], [0, 3.0, 0], [0, 0, 0]]]], 27, 24.3),
        # ... and with 3 at a corner: 4 outputs per event -> 12 ACs = 10.8 pJ.
        (nn.Conv2d(1, 1, 3, padding=1, bias=False), [[[[3.0, 0, 0], [0, 0, 0], [0, 0, 0]]]], 12, 10.8),
    ],
)
def test_a_count_k_costs_k_accumulates_per_synapse(layer, count, acs, pj):
    """SEW's ADD and event frames give counts: a count k is k spikes, so k ACs per synapse reached
    (0.9 pJ each); worked by hand."""
    x = torch.tensor(count)  # one input, one step
    static = DatasetInfo("v", "v", "event", 2, 1, 1, frames=1)
    (activity,) = measure_activity(CountsThenLayer(layer), x[None].numpy(), static, 1)
    assert activity.input_kind == "counts"
    assert activity.ops.tolist() == [[acs]]
    energy = energy_per_image([activity], np.array([1]))
    assert energy.ac_pj == pytest.approx(pj) and energy.mac_pj == 0.0


def test_fractions_are_analog_macs():
    """A non-integer input (pixels, or an average of spikes) is charged its dense MACs (4.6 pJ each)."""
    x = torch.tensor([[0.5, 0.0, 1.0]])
    static = DatasetInfo("v", "v", "event", 2, 1, 1, frames=1)
    (activity,) = measure_activity(CountsThenLayer(nn.Linear(3, 2)), x[None].numpy(), static, 1)
    assert activity.input_kind == "analog" and activity.ops.tolist() == [[6]]
    assert energy_per_image([activity], np.array([1])).mac_pj == pytest.approx(6 * 4.6)
