"""The activity count on a spikingjelly network against a count made here by hand: LIF dynamics written
out in torch, every spike charged one accumulate per synapse it reaches (a ones-kernel convolution of the
spike map counts exactly that), every analog input the layer's dense MACs."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from pipeline.hardware.energy import E_AC_PJ, E_MAC_PJ, energy_per_image
from pipeline.interop.energy import jelly_activity

pytest.importorskip("spikingjelly.activation_based.neuron")
T, N = 4, 24


def net_and_inputs():
    from spikingjelly.activation_based import functional, layer, neuron

    torch.manual_seed(0)
    net = nn.Sequential(
        layer.Conv2d(1, 4, 3, padding=1),
        neuron.LIFNode(tau=2.0),
        layer.Conv2d(4, 6, 3, padding=1),
        neuron.LIFNode(tau=2.0),
        layer.Flatten(),
        layer.Linear(6 * 8 * 8, 5),
    )
    with torch.no_grad():
        for m in net.modules():
            if isinstance(m, (nn.Conv2d, nn.Linear)):
                m.weight.mul_(4.0)
    functional.set_step_mode(net, "m")
    x = 2 * torch.rand(N, 1, 8, 8, generator=torch.Generator().manual_seed(1))
    return net, x


def lif_by_hand(currents: torch.Tensor) -> torch.Tensor:
    """`[T, ...]` input currents -> spikes: v += (x - v) / 2, spike when v >= 1, then v = 0."""
    v, spikes = torch.zeros_like(currents[0]), []
    for x_t in currents:
        v = v + (x_t - v) / 2.0
        s = (v >= 1.0).to(currents.dtype)
        v = v * (1 - s)
        spikes.append(s)
    return torch.stack(spikes)


def test_counts_equal_a_hand_count():
    net, x = net_and_inputs()
    conv1, conv2 = net[0], net[2]
    with torch.no_grad():
        s1 = lif_by_hand(
            torch.stack([F.conv2d(x, conv1.weight, conv1.bias, padding=1)] * T)
        )  # [T, N, 4, 8, 8]
        s2 = lif_by_hand(F.conv2d(s1.flatten(0, 1), conv2.weight, conv2.bias, padding=1).view(T, N, 6, 8, 8))
        reach = F.conv2d(s1.flatten(0, 1), torch.ones(6, 4, 3, 3), padding=1).sum(dim=(1, 2, 3)).view(T, N)
    activity = {a.name: a for a in jelly_activity(net, x, T, batch_size=10)}  # 3 batches, the last short
    assert [activity[k].input_kind for k in ("0", "2", "5")] == ["analog", "spikes", "spikes"]
    np.testing.assert_array_equal(activity["0"].ops, np.full((T, N), 4 * 8 * 8 * 9))
    np.testing.assert_array_equal(activity["2"].events, s1.flatten(2).sum(2).numpy())
    np.testing.assert_array_equal(activity["2"].ops, reach.round().long().numpy())
    np.testing.assert_array_equal(activity["5"].ops, s2.flatten(2).sum(2).long().numpy() * 5)
    assert 0 < s1.mean() < 1 and 0 < s2.mean() < 1  # both layers spike, not saturated

    exit_step = np.arange(N) % T + 1
    report = energy_per_image(list(activity.values()), exit_step)
    ran = np.arange(1, T + 1)[:, None] <= exit_step[None, :]
    mac = 4 * 8 * 8 * 9 * exit_step.mean() * E_MAC_PJ
    ac = ((reach.numpy() + 5 * s2.flatten(2).sum(2).numpy()) * ran).sum() / N * E_AC_PJ
    assert report.mac_pj == pytest.approx(mac) and report.ac_pj == pytest.approx(ac)


def test_step_mode_is_restored_and_a_plain_net_is_refused():
    net, x = net_and_inputs()
    jelly_activity(net, x[:4], T)
    assert {m.step_mode for m in net.modules() if hasattr(m, "step_mode")} == {"m"}
    with pytest.raises(ValueError, match="no spikingjelly neuron"):
        jelly_activity(nn.Sequential(nn.Linear(3, 2)), torch.zeros(2, 3), T)
