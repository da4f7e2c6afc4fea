"""Recording real spikingjelly and snnTorch networks, and the sweep on what was recorded.

Each recording is checked against the same network driven by hand in the other way (time loop against
one call on the whole sequence), and the sweep's fixed-T and SEENN-I points against accuracies and exit
steps computed here from those hand-driven outputs.
"""

import json

import numpy as np
import pandas as pd
import pytest
import torch

from pipeline.interop.evaluate import evaluate, settings
from pipeline.interop.outputs import load_outputs
from pipeline.interop.record import record_outputs, save_outputs
from tests.interop.nets import C, N, SnnTorchLoop, SnnTorchStep, T, batches, inputs, jelly_net

functional = pytest.importorskip("spikingjelly.activation_based.functional")
pytest.importorskip("snntorch")


def hand_jelly_steps(x: torch.Tensor) -> torch.Tensor:
    """spikingjelly in single-step mode, stepped by hand over the whole set: `[T, N, C]`."""
    net = jelly_net("s").eval()
    functional.reset_net(net)
    with torch.no_grad():
        return torch.stack([net(x) for _ in range(T)])


def hand_jelly_sequence(x: torch.Tensor) -> torch.Tensor:
    """spikingjelly in multi-step mode, one call on `[T, N, ...]`: `[T, N, C]`."""
    net = jelly_net("m").eval()
    functional.reset_net(net)
    with torch.no_grad():
        return net(x.unsqueeze(0).repeat(T, 1, 1, 1, 1))


def hand_snntorch_loop(x: torch.Tensor) -> torch.Tensor:
    with torch.no_grad():
        return SnnTorchLoop().eval()(x.unsqueeze(0).repeat(T, 1, 1, 1, 1))


@pytest.fixture(scope="module")
def data():
    return inputs(seed=1)


@pytest.fixture(scope="module")
def recorded(data):
    """name -> (recorded logits [T, N, C], labels [N], hand-driven reference [T, N, C])."""
    x, y = data
    loader = batches(x, y)
    out = {
        "jelly_multistep": (*record_outputs(jelly_net("m"), loader, T), hand_jelly_steps(x)),
        "jelly_singlestep": (*record_outputs(jelly_net("s"), loader, T, step=True), hand_jelly_sequence(x)),
        "snntorch_step": (*record_outputs(SnnTorchStep(), loader, T, step=True), hand_snntorch_loop(x)),
    }
    stepper = SnnTorchStep().eval()

    def hand_step(x_all):  # the step network stepped by hand, membranes cleared first
        from snntorch import utils

        utils.reset(stepper)
        with torch.no_grad():
            return torch.stack([stepper(x_all) for _ in range(T)])

    out["snntorch_loop"] = (*record_outputs(SnnTorchLoop(), loader, T), hand_step(x))
    return out


@pytest.mark.parametrize("name", ["jelly_multistep", "jelly_singlestep", "snntorch_step", "snntorch_loop"])
def test_recording_equals_the_network_driven_by_hand(recorded, data, name):
    logits, labels, reference = recorded[name]
    assert logits.shape == (T, N, C) and logits.dtype == np.float32
    np.testing.assert_array_equal(labels, data[1].numpy())
    np.testing.assert_allclose(logits, reference.numpy(), rtol=1e-5, atol=1e-5)
    # the state matters (the steps differ) and is cleared between batches (16 at a time = all at once)
    assert np.abs(np.diff(logits, axis=0)).max() > 1e-3
    assert np.abs(np.diff(reference.numpy(), axis=0)).max() > 1e-3


def test_recording_twice_gives_the_same_outputs(data):
    """The reset before each batch (spikingjelly's reset_net, found automatically) leaves no membrane."""
    x, y = data
    net = jelly_net("m")
    first, _ = record_outputs(net, batches(x, y), T)
    second, _ = record_outputs(net, batches(x, y, size=64), T)
    np.testing.assert_allclose(first, second, rtol=1e-5, atol=1e-6)


def test_a_tuple_output_needs_a_picker(data):
    x, y = data
    net = SnnTorchStep()
    with pytest.raises(TypeError, match="output="):
        record_outputs(lambda x_t: (net(x_t), net(x_t)), batches(x, y), T, step=True, reset=lambda m: None)
    logits, _ = record_outputs(
        lambda x_t: (net(x_t), None), batches(x, y), T, step=True, reset=lambda m: None, output=lambda o: o[0]
    )
    assert logits.shape == (T, N, C)


def seenn1_by_hand(reference: np.ndarray, alpha: float) -> tuple[np.ndarray, np.ndarray]:
    """Exit step `[N]` (1-based) and prediction `[N]`: the first t whose softmax of the summed outputs has
    a maximum above alpha, else T; computed input by input in float64."""
    steps, predictions = [], []
    for i in range(reference.shape[1]):
        total = np.zeros(reference.shape[2])
        for t in range(1, T + 1):
            total = total + reference[t - 1, i].astype(np.float64)
            p = np.exp(total - total.max()) / np.exp(total - total.max()).sum()
            if p.max() > alpha or t == T:
                steps.append(t)
                predictions.append(int(np.argmax(total)))
                break
    return np.array(steps), np.array(predictions)


@pytest.mark.parametrize("name", ["jelly_multistep", "snntorch_step"])
def test_sweep_on_recorded_outputs_matches_a_direct_computation(recorded, name, tmp_path):
    logits, labels, reference = recorded[name]
    reference = reference.numpy()
    confidence = torch.softmax(torch.from_numpy(reference.cumsum(0)), -1).amax(-1).numpy()  # [T, N]
    alpha = float(np.round(np.quantile(confidence[0], 0.5), 4))  # about half exit at step 1
    assert 0 < alpha < 1
    save_outputs(tmp_path / "test.npz", torch.from_numpy(logits), labels)
    assert load_outputs(tmp_path / "test.npz").T == T
    evaluate(tmp_path / "out", tmp_path / "test.npz", name=name, params=settings(alpha=alpha))
    sweep = pd.read_csv(tmp_path / "out" / "run" / "sweep.csv")

    fixed = sweep[sweep.policy == "fixed"].set_index("param")
    for t in range(1, T + 1):
        expected = (reference[:t].sum(0).argmax(-1) == labels).mean()
        assert fixed.loc[t, "accuracy"] == pytest.approx(expected, rel=1e-5)
        assert fixed.loc[t, "avg_timesteps"] == t

    steps, predictions = seenn1_by_hand(reference, alpha)
    assert 0 < (steps == 1).sum() < N  # the check sees early and late exits
    row = sweep[(sweep.policy == "seenn1") & np.isclose(sweep.param, alpha)].iloc[0]
    assert row.accuracy == pytest.approx((predictions == labels).mean(), rel=1e-5)
    assert row.avg_timesteps == pytest.approx(steps.mean(), rel=1e-5)  # sweep.csv: 6 significant digits
    with np.load(tmp_path / "out" / "run" / "decisions.npz") as z:
        k = np.flatnonzero((z["policy"] == "seenn1") & np.isclose(z["param"], alpha))[0]
        np.testing.assert_array_equal(z["exit_step"][k], steps)
        np.testing.assert_array_equal(z["correct"][k], predictions == labels)
    record = json.loads((tmp_path / "out" / "run" / "run.json").read_text())
    assert (record["T"], record["num_classes"], record["run"]) == (T, C, name)
