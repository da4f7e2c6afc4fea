"""Tests for `pipeline/training/recipes.py`: the calibration outputs SNNCutoff reads (dropout after every
spiking layer while recording, seeded), and the run's training config under torchrun's rules."""

import numpy as np
import torch
from torch import nn

from pipeline.core.config import DirectRun, DistributedParams
from pipeline.data.prepared import DatasetInfo, PreparedData
from pipeline.snn.neurons import LIF
from pipeline.snn.surrogate import SURROGATES
from pipeline.training.context import Execution
from pipeline.training.distributed import Process
from pipeline.training.recipes import neuron_dropout, train_config, training_set_logits

INFO = DatasetInfo("digits", "digits", "static", 3, 1, 2)
RUN = DirectRun(dataset="digits", model="resnet8", width=0.25, T=3)


class Tiny(nn.Module):
    """[T, N, 1, 2, 2] -> flatten -> Linear(4, 6) -> LIF -> Linear(6, 3): spikes for inputs around 1."""

    def __init__(self):
        super().__init__()
        torch.manual_seed(0)
        self.fc1, self.lif, self.fc2 = nn.Linear(4, 6), LIF(SURROGATES.get("triangle")()), nn.Linear(6, 3)
        with torch.no_grad():
            self.fc1.weight.abs_()

    def forward(self, x):
        return self.fc2(self.lif(self.fc1(x.flatten(2))))


def _data(n: int = 12) -> PreparedData:
    rng = np.random.default_rng(0)
    x = rng.random((n, 1, 2, 2), dtype=np.float32) * 3
    y = rng.integers(0, 3, n)
    return PreparedData(INFO, x, y, x, y)


def test_calibration_dropout_is_seeded_and_off_at_zero():
    model, data = Tiny(), _data()
    clean, labels = training_set_logits(model, data, RUN.T, "cpu")
    again, _ = training_set_logits(model, data, RUN.T, "cpu", dropout=0.0, seed=5)
    np.testing.assert_array_equal(clean, again)  # p = 0: no dropout, whatever the seed
    a, _ = training_set_logits(model, data, RUN.T, "cpu", dropout=0.3, seed=1)
    b, _ = training_set_logits(model, data, RUN.T, "cpu", dropout=0.3, seed=1)
    c, _ = training_set_logits(model, data, RUN.T, "cpu", dropout=0.3, seed=2)
    np.testing.assert_array_equal(a, b)  # seeded
    assert not np.array_equal(a, clean) and not np.array_equal(a, c)
    np.testing.assert_array_equal(labels, data.y_train)


def test_neuron_dropout_scales_kept_spikes_and_leaves_the_model_as_it_was():
    model = Tiny().eval()
    x = torch.rand(3, 5, 1, 2, 2) * 3
    seen = []
    handle = model.fc2.register_forward_pre_hook(lambda m, args: seen.append(args[0]))
    with neuron_dropout(model, 0.5):
        model(x)
    model(x)
    handle.remove()
    dropped, plain = seen
    assert set(torch.unique(dropped).tolist()) == {0.0, 2.0}  # kept spikes scaled by 1 / (1 - p)
    assert set(torch.unique(plain).tolist()) == {0.0, 1.0}  # hooks removed on exit


def test_train_config_under_torchrun_rules():
    scaling = DistributedParams(batch_size="per_process", lr_scaling="linear")
    config = train_config(RUN, 7, Execution(process=Process(0, 4), scaling=scaling))
    assert (config.batch_size, config.lr, config.seed) == (RUN.batch_size * 4, RUN.lr * 4, 7)
    assert train_config(RUN, 7).batch_size == RUN.batch_size


def test_fit_keeps_the_best_holdout_epoch():
    """`select: best_holdout` keeps the weights of the epoch with the best held-out accuracy (ties: the
    earlier), not the last epoch's, and reports that epoch's metrics."""
    from pipeline.data.feed import InMemoryFeed
    from pipeline.training.context import TrainingContext
    from pipeline.training.loop import Task, TrainConfig, fit

    model = nn.Linear(2, 2)
    scores = iter([0.5, 0.9, 0.7, 0.9])
    weights = []

    def step(net, xb, yb):
        return nn.functional.cross_entropy(net(xb), yb), {}

    task = Task(net=model, step=step, score=lambda: {"holdout_accuracy": next(scores)}, modules={"m": model})
    feed = InMemoryFeed(torch.randn(8, 2), torch.randint(0, 2, (8,)), 4)
    on_epoch = lambda epoch, metrics: weights.append(model.weight.detach().clone())  # noqa: E731
    metrics = fit(
        task,
        feed,
        TrainConfig(epochs=4, batch_size=4, keep_best="holdout_accuracy"),
        TrainingContext(on_epoch=on_epoch),
    )
    torch.testing.assert_close(model.weight, weights[1])  # epoch 2 (0.9; epoch 4 ties and loses)
    assert metrics["kept_epoch"] == 2 and metrics["holdout_accuracy"] == 0.9


def test_timestep_curriculum_trains_the_first_epochs_at_the_short_T():
    """`curriculum_T: 1, curriculum_epochs: 2` of 3 epochs: every forward pass of the first two epochs
    (training steps and the epoch's score) sees 1 step, the third epoch's and the recorded outputs T = 3."""
    from dataclasses import replace

    from pipeline.training.context import TrainingContext
    from pipeline.training.recipes import train_direct

    seen: list[tuple[int, int, bool]] = []  # (epoch, input steps, training) of each LIF call
    epoch = [0]
    hook = torch.nn.modules.module.register_module_forward_pre_hook(
        lambda m, args: seen.append((epoch[0], args[0].shape[0], m.training)) if isinstance(m, LIF) else None
    )
    run = replace(RUN, epochs=3, batch_size=4, curriculum_T=1, curriculum_epochs=2)
    on_epoch = lambda e, metrics: epoch.__setitem__(0, e + 1)  # noqa: E731
    try:
        _, logits, _ = train_direct(run, _data(), seed=0, ctx=TrainingContext(on_epoch=on_epoch))
    finally:
        hook.remove()
    steps = {
        (e, train): {t for e2, t, tr in seen if (e2, tr) == (e, train)}
        for e in range(4)
        for train in (True, False)
    }
    assert steps[0, True] == steps[1, True] == steps[0, False] == steps[1, False] == {1}
    assert steps[2, True] == steps[2, False] == {3}
    assert steps[3, False] == {3} and logits.shape == (3, 12, 3)  # after training: the recorded outputs
