"""The batched early-exit engine on a real spikingjelly network: per-input exit steps and predictions equal
the offline SEENN-I rule on the network's full-T outputs, whatever the batch, refill and compaction."""

import numpy as np
import pytest
import torch

from pipeline.data.prepared import DatasetInfo
from pipeline.exits.policies import fixed_exit, seenn1_exit
from pipeline.hardware.engine import infer
from pipeline.hardware.rules import FixedT, Seenn1
from pipeline.interop.record import record_outputs
from pipeline.interop.stepping import JellyMembrane, SteppedJelly
from tests.interop.nets import C, T, batches, inputs, jelly_net

functional = pytest.importorskip("spikingjelly.activation_based.functional")
INFO = DatasetInfo("user", "user data", "static", C, 1, 10)


@pytest.fixture(scope="module")
def case():
    """A float64 spikingjelly net (an exit cannot flip on a last-ulp kernel difference), 64 inputs, its
    per-step outputs `[T, N, C]` recorded offline, and an alpha that spreads the exits over the steps."""
    x, y = inputs(seed=3)
    net, x = jelly_net("m").double(), x.double()
    logits, _ = record_outputs(net, batches(x, y), T)  # float32 copy: only to pick alpha
    confidence = torch.softmax(torch.from_numpy(logits.cumsum(0)), -1).amax(-1).numpy()  # [T, N]
    alpha = float(np.quantile(confidence[1], 0.6))
    functional.reset_net(net)
    with torch.no_grad():
        full = net(x.unsqueeze(0).repeat(T, 1, 1, 1, 1)).numpy()  # [T, N, C] float64
    functional.reset_net(net)
    return net, x, full, alpha


@pytest.mark.parametrize(
    "batch_size, refill, compact", [(16, True, 0.0), (64, True, 0.0), (16, False, 0.0), (16, False, 0.5)]
)
def test_engine_exits_equal_the_offline_rule(case, batch_size, refill, compact):
    net, x, full, alpha = case
    offline = seenn1_exit(full, alpha)
    assert len(np.unique(offline.exit_step)) >= 3  # early, middle and late exits are all exercised
    result = infer(SteppedJelly(net), x, INFO, T, Seenn1(alpha), batch_size, compact, refill)
    np.testing.assert_array_equal(result.decision.exit_step, offline.exit_step)
    np.testing.assert_array_equal(result.decision.prediction, offline.prediction)
    if refill or compact == 0.0:
        assert result.sample_steps == offline.exit_step.sum()  # finished inputs were dropped, not computed


def test_single_step_mode_and_fixed_t(case):
    net, x, full, alpha = case
    functional.set_step_mode(net, "s")
    try:
        result = infer(SteppedJelly(net), x, INFO, T, Seenn1(alpha), batch_size=16)
        fixed = infer(SteppedJelly(net), x, INFO, T, FixedT(2), batch_size=16)
    finally:
        functional.set_step_mode(net, "m")
    np.testing.assert_array_equal(result.decision.exit_step, seenn1_exit(full, alpha).exit_step)
    np.testing.assert_array_equal(fixed.decision.prediction, fixed_exit(full, 2).prediction)


def test_membranes_are_the_networks_own(case):
    net, x, _, _ = case
    stepped = SteppedJelly(net)
    lif = net[1]
    membrane = stepped.membranes[0]
    functional.reset_net(net)
    assert membrane.v is None  # spikingjelly's float before the first step
    with torch.no_grad():
        stepped(x[:5].unsqueeze(0))
    assert membrane.v is lif.v and lif.v.shape == (5, 8, 10, 10)
    membrane.v = membrane.v[:2]
    assert lif.v.shape == (2, 8, 10, 10)
    membrane.reset()
    assert isinstance(lif.v, float)


def test_neurons_with_more_state_are_refused():
    from spikingjelly.activation_based import neuron

    with pytest.raises(ValueError, match="only state is the membrane v"):
        JellyMembrane(neuron.IzhikevichNode())  # v and the adaptation current w
