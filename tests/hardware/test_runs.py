"""Which test inputs the hardware stage measures (`hardware.test_inputs`)."""

import numpy as np
import pytest

from pipeline.core.config import ParamsError, parse_params
from pipeline.hardware.runs import evenly_spaced


def test_zero_or_too_many_keeps_every_input():
    assert evenly_spaced(5, 0).tolist() == [0, 1, 2, 3, 4]
    assert evenly_spaced(5, 9).tolist() == [0, 1, 2, 3, 4]


def test_a_subset_spreads_over_a_class_sorted_test_set():
    """10 classes of 1,000 sorted inputs each, 2,000 kept: 200 of every class (by hand: indices 0, 5.0025,
    10.005, ... rounded, the last one 9,999)."""
    kept = evenly_spaced(10_000, 2_000)
    assert len(kept) == 2_000 and kept[0] == 0 and kept[1] == 5 and kept[-1] == 9_999
    assert len(np.unique(kept)) == 2_000
    assert np.bincount(kept // 1_000).tolist() == [200] * 10


def test_the_param_defaults_to_all_and_rejects_negatives():
    assert parse_params({}).hardware.test_inputs == 0
    with pytest.raises(ParamsError, match=r"hardware.test_inputs = -1 is not allowed: a value >= 0"):
        parse_params({"hardware": {"test_inputs": -1}})
