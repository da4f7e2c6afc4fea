"""The fast recipe's ingredients, each against values worked out by hand."""

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from pipeline.data.feed import InMemoryFeed
from pipeline.training.ingredients import flip_tta, make_ema, make_schedule, warmup_cosine
from pipeline.training.loop import Task, TrainConfig, evaluate, fit
from pipeline.training.losses import tet_loss


def test_ema_equals_the_hand_average_over_two_steps():
    # w0 = 1 (the copy taken at the first update), then the weights become 3: ema = 0.9 * 1 + 0.1 * 3 = 1.2
    model = nn.Linear(1, 1, bias=False)
    ema = make_ema(model, 0.9)
    with torch.no_grad():
        model.weight.fill_(1.0)
        ema.update_parameters(model)
        model.weight.fill_(3.0)
        ema.update_parameters(model)
    assert ema.module.weight.item() == pytest.approx(1.2)
    assert make_ema(model, 0.0) is None


def test_ema_averages_batchnorm_statistics_too():
    bn = nn.BatchNorm1d(1)
    ema = make_ema(bn, 0.5)
    with torch.no_grad():
        bn.running_mean.fill_(2.0)
        ema.update_parameters(bn)
        bn.running_mean.fill_(4.0)
        ema.update_parameters(bn)
    assert ema.module.running_mean.item() == pytest.approx(3.0)  # 0.5 * 2 + 0.5 * 4


def test_label_smoothing_loss_by_hand():
    # two classes, logits (0, 0): log p = log 0.5 for both; target (1 - s) * onehot + s / 2 sums to 1,
    # so the loss is -log 0.5 whatever s. Logits (2, 0), label 0, s = 0.2: target (0.9, 0.1).
    out = torch.tensor([[[2.0, 0.0]]])  # [T=1, N=1, C=2]
    y = torch.tensor([0])
    log_p = [2.0 - math.log(math.exp(2.0) + 1.0), -math.log(math.exp(2.0) + 1.0)]
    expected = -(0.9 * log_p[0] + 0.1 * log_p[1])
    assert tet_loss(out, y, lam=0.0, label_smoothing=0.2).item() == pytest.approx(expected, rel=1e-6)
    assert tet_loss(out, y, lam=0.0).item() == pytest.approx(-log_p[0], rel=1e-6)


def test_flip_tta_is_the_mean_of_the_two_passes():
    x = torch.arange(6.0).reshape(1, 1, 1, 2, 3)  # [T, N, C, H, W]; row 0 = 0 1 2, row 1 = 3 4 5
    weights = torch.tensor([1.0, 10.0, 100.0])  # makes the output see the order along the width

    def forward(z):
        return (z * weights).sum(-1)

    # plain: 0 + 10 + 200 = 210, 3 + 40 + 500 = 543; mirrored: 2 + 10 + 0 = 12, 5 + 40 + 300 = 345
    assert flip_tta(forward, x).flatten().tolist() == [111.0, 444.0]


def test_evaluate_with_tta_averages_the_mirrored_input():
    model = nn.Sequential(nn.Flatten(2), nn.Linear(4, 1, bias=False))  # [T, N, 1, 2, 2] -> [T, N, 1]
    with torch.no_grad():
        model[1].weight.copy_(torch.tensor([[1.0, 2.0, 0.0, 0.0]]))
    x = torch.tensor([[[[1.0, 0.0], [0.0, 0.0]]]])  # one image [N=1, C=1, 2, 2]: a 1 at the top left
    feed = InMemoryFeed(x, torch.zeros(1, dtype=torch.long), 1)
    encode = lambda b: b[None]  # noqa: E731
    plain = evaluate(model, feed, encode)[0].item()
    tta = evaluate(model, feed, encode, tta=True)[0].item()
    assert (plain, tta) == (1.0, 1.5)  # mirrored, the 1 meets the weight 2: (1 + 2) / 2


def test_warmup_then_cosine_factors_by_hand():
    factor = warmup_cosine(total_steps=6, warmup_steps=2)
    got = [factor(s) for s in range(6)]
    # warm-up 1/2, 2/2; then cosine over the 4 remaining steps: 1, (1 + cos(pi/4))/2, 1/2, (1 + cos(3pi/4))/2
    expected = [0.5, 1.0, 1.0, (1 + math.cos(math.pi / 4)) / 2, 0.5, (1 + math.cos(3 * math.pi / 4)) / 2]
    assert got == pytest.approx(expected)


def test_no_warmup_keeps_torch_cosine_annealing():
    opt = torch.optim.SGD([nn.Parameter(torch.zeros(1))], lr=0.1)
    assert isinstance(make_schedule(opt, 10, 0), torch.optim.lr_scheduler.CosineAnnealingLR)


def test_nesterov_reaches_the_optimizer():
    model = nn.Linear(2, 2)
    x, y = torch.randn(8, 2), torch.randint(0, 2, (8,))
    seen = {}

    def step(net, xb, yb):
        return F.cross_entropy(net(xb), yb), {}

    task = Task(net=model, step=step, score=lambda: {}, modules={"model": model})
    original = torch.optim.SGD.__init__

    def spy(self, params, **kw):
        seen.update(kw)
        original(self, params, **kw)

    torch.optim.SGD.__init__ = spy
    try:
        fit(task, InMemoryFeed(x, y, 4), TrainConfig(epochs=1, nesterov=True))
    finally:
        torch.optim.SGD.__init__ = original
    assert seen["nesterov"] is True


def test_fit_ends_on_the_ema_weights():
    # one weight w with loss w (gradient 1, no decay, no momentum), two steps; the EMA (decay 0.5) starts
    # at the weights after step 1, then averages in those after step 2.
    w = nn.Parameter(torch.zeros(1))
    model = nn.Module()
    model.w = w
    task = Task(net=model, step=lambda net, xb, yb: (net.w.sum(), {}), score=lambda: {}, modules={"m": model})
    feed = InMemoryFeed(torch.zeros(2, 1), torch.zeros(2, dtype=torch.long), 1)
    config = TrainConfig(epochs=1, lr=1.0, momentum=0.0, weight_decay=0.0, ema_decay=0.5)
    # cosine over 2 steps: step 1 at lr 1, step 2 at lr (1 + cos(pi/2)) / 2 = 0.5: w = -1, then -1.5
    fit(task, feed, config)
    assert w.item() == pytest.approx(0.5 * -1.0 + 0.5 * -1.5)


def test_ema_and_best_epoch_selection_exclude_each_other():
    with pytest.raises(ValueError, match="keep_best and ema_decay"):
        TrainConfig(keep_best="holdout_accuracy", ema_decay=0.9)


def test_calibration_subset_takes_the_first_k_of_each_class_in_order():
    from pipeline.data.prepared import DatasetInfo, PreparedData
    from pipeline.training.context import Execution
    from pipeline.training.feeds import eval_feed

    y = np.array([0, 1, 0, 2, 1, 0, 2])  # class 0 has three inputs: its third (index 5) is left out
    x = np.arange(7, dtype=np.uint8)[:, None, None, None].repeat(3, 1).repeat(2, 2).repeat(2, 3)
    info = DatasetInfo("t", "t", "static", 3, 3, 2, mean=(0.0,) * 3, std=(1.0,) * 3)
    data = PreparedData(info, x, y, x[:1], y[:1])
    feed = eval_feed(data, "train", "cpu", Execution(), limit_per_class=2)
    xs, ys = zip(*feed.batches(None))
    assert torch.cat(ys).tolist() == [0, 1, 0, 2, 1, 2]  # indices 0, 1, 2, 3, 4, 6: input 5 is a third 0
    assert torch.cat(xs)[:, 0, 0, 0].tolist() == [0, 1, 2, 3, 4, 6]
