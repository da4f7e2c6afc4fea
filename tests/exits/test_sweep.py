"""Tests for `pipeline/exits/sweep.py`: the points of a sweep carry their intervals, and the AET intervals
are a bootstrap over the test inputs."""

import numpy as np
import pytest

from pipeline.exits.metrics import aet, empirical_aet
from pipeline.exits.points import POINT_COLUMNS
from pipeline.exits.stats import BOOTSTRAP_SEED, wilson_interval
from pipeline.exits.sweep import aet_summary, sweep_rows


def _case(n: int = 300, T: int = 4, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 5, n)
    logits = rng.normal(size=(T, n, 5))
    logits[:, np.arange(n), labels] += 1.2
    return logits, labels


def test_aet_intervals_are_a_bootstrap_over_the_inputs():
    """The fast bootstrap (multiplicities of the inputs applied to the correct counts) equals recomputing
    AET and empirical AET on each resampled test set, resample for resample."""
    logits, labels = _case(n=120)
    summary = aet_summary(logits, labels, samples=300)
    rng = np.random.default_rng(BOOTSTRAP_SEED)
    resamples = [rng.integers(0, 120, 120) for _ in range(300)]
    direct = np.array(
        [(aet(logits[:, i], labels[i]), empirical_aet(logits[:, i], labels[i])) for i in resamples]
    )
    low, high = np.quantile(direct, [0.025, 0.975], axis=0)
    assert (summary["aet_low"], summary["aet_high"]) == pytest.approx((low[0], high[0]), abs=1e-12)
    assert (summary["empirical_aet_low"], summary["empirical_aet_high"]) == pytest.approx((low[1], high[1]))
    assert summary["aet_low"] <= summary["aet"] <= summary["aet_high"]
    assert summary["T"] == 4


def test_sweep_lines_carry_wilson_and_normal_intervals():
    logits, labels = _case()
    table, shares = sweep_rows(logits, labels, [0.5, 0.9])
    assert list(table.columns) == POINT_COLUMNS
    full = table[(table.policy == "fixed") & (table.param == 4)].iloc[0]
    k = int(round(full.accuracy * 300))
    assert (full.accuracy_low, full.accuracy_high) == pytest.approx(wilson_interval(k, 300))
    assert full.avg_timesteps_low == full.avg_timesteps_high == 4.0  # every input runs T: no spread
    seenn1 = table[table.policy == "seenn1"]
    assert (seenn1.avg_timesteps_low < seenn1.avg_timesteps).all() or (seenn1.avg_timesteps == 4).all()
    assert set(shares.param) == {0.5, 0.9}
