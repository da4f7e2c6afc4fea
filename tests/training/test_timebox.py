"""pipeline/training/timebox.py: the epoch count of a time box, the warm-up subset and the guard that stops
`fit` between epochs."""

import pytest
import torch
from torch import nn

from pipeline.data.feed import InMemoryFeed
from pipeline.training.context import TrainingContext
from pipeline.training.loop import Task, TrainConfig, fit
from pipeline.training.timebox import (
    EpochDeadline,
    TimeBoxExceeded,
    epoch_estimate,
    epochs_within,
    warmup_samples,
)


def test_epochs_within_takes_the_whole_epochs_that_fit_in_the_margin():
    assert epochs_within(300, 14.0) == 20  # 285 / 14 = 20.4
    assert epochs_within(300, 14.0, margin=1.0) == 21
    assert epochs_within(300, 15.0, margin=1.0) == 20  # exactly full
    assert epochs_within(5, 14.0) == 1 and epochs_within(-3, 14.0) == 1  # never fewer than `minimum`
    assert epochs_within(5, 14.0, minimum=0) == 0
    assert epochs_within(300, 1.0, maximum=30) == 30
    bad_args = (dict(epoch_s=0), dict(epoch_s=float("inf")), dict(epoch_s=1, margin=0),
                dict(epoch_s=1, minimum=3, maximum=2))  # fmt: skip
    for bad in bad_args:
        with pytest.raises(ValueError):
            epochs_within(100, **bad)


def test_the_warmup_subset_ends_with_the_epochs_last_batch_shape():
    assert warmup_samples(50_000, 256, 8) == 8 * 256 + 80  # CIFAR-10: the last batch of an epoch holds 80
    assert warmup_samples(10_000, 256, 1) == 256 + 16  # the test set: 39 full batches and 16
    assert warmup_samples(512, 256, 8) == 512  # never more than the data
    assert warmup_samples(48, 16, 1) == 16  # no partial batch
    with pytest.raises(ValueError):
        warmup_samples(10, 0, 1)


def test_the_epoch_estimate_scales_the_steps_and_adds_one_evaluation():
    assert epoch_estimate(0.9, 9, 196, eval_s=1.5) == pytest.approx(0.1 * 196 + 1.5)
    assert epoch_estimate(1.0, 9, 196, eval_s=1.5, pass_eval_s=0.1) == pytest.approx(0.1 * 196 + 1.5)
    with pytest.raises(ValueError):
        epoch_estimate(1.0, 0, 196)


class FakeClock:
    def __init__(self):
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_the_deadline_stops_after_an_epoch_when_the_next_would_end_past_it():
    clock = FakeClock()
    seen = []
    guard = EpochDeadline(deadline=35.0, epochs=5, then=lambda e, m: seen.append(e), clock=clock)
    clock.now = 10.0
    guard(0, {"loss": 1.0})  # the next would end at 20 <= 35
    clock.now = 24.0
    with pytest.raises(TimeBoxExceeded) as stop:
        guard(1, {"loss": 0.5})  # the next, as long as the longest (14 s), would end at 38 > 35
    assert (stop.value.epochs_done, stop.value.epochs) == (2, 5) and seen == [0, 1]
    assert guard.epoch_s == [10.0, 14.0] and "stopped after 2 of 5 epochs (24.0 s)" in str(stop.value)


def test_the_deadline_keeps_going_while_the_next_epoch_fits_and_never_stops_after_the_last():
    clock = FakeClock()
    guard = EpochDeadline(deadline=35.0, epochs=3, clock=clock)
    clock.now = 10.0
    guard(0, {"loss": 1.0})  # next would end at 20 <= 35
    clock.now = 22.0
    guard(1, {"loss": 0.5})  # next would end at 34 <= 35
    clock.now = 40.0
    guard(2, {"loss": 0.4})  # past the deadline, but it was the last epoch
    assert guard.epoch_s == [10.0, 12.0, 18.0] and [h["loss"] for h in guard.history] == [1.0, 0.5, 0.4]


def test_fit_stopped_by_the_deadline_keeps_the_epochs_done():
    torch.manual_seed(0)
    net = nn.Linear(4, 2)
    x, y = torch.randn(32, 4), torch.randint(0, 2, (32,))

    def step(model, xb, yb):
        return nn.functional.cross_entropy(model(xb), yb), {}

    task = Task(net=net, step=step, score=lambda: {}, modules={"model": net})
    clock = FakeClock()

    def tick(epoch, metrics):
        clock.now += 10.0  # every epoch "takes" 10 s

    guard = EpochDeadline(deadline=25.0, epochs=10, clock=clock)
    ctx = TrainingContext(on_epoch=lambda e, m: (tick(e, m), guard(e, m)))
    before = net.weight.detach().clone()
    with pytest.raises(TimeBoxExceeded) as stop:
        fit(task, InMemoryFeed(x, y, 8), TrainConfig(epochs=10, lr=0.1), ctx)
    assert (stop.value.epochs_done, stop.value.epochs) == (2, 10)  # 20 + 10 > 25 after the second epoch
    assert "stopped after 2 of 10 epochs" in str(stop.value) and len(guard.epoch_s) == 2
    assert not torch.equal(before, net.weight)  # the model keeps what it learnt
