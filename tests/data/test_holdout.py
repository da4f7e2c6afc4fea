"""The held-out split (`data.<dataset>.holdout_fraction`): part of the training split the data stage sets
aside, which no SNN trains on: stratified, seeded, disjoint from the training inputs, and saved."""

import numpy as np
import pytest

from pipeline.core.config import parse_params
from pipeline.data import hold_out, prepare_dataset
from pipeline.data.prepared import DatasetInfo, PreparedData, load_prepared, save_prepared


def _digits(fraction: float, seed: int = 0) -> PreparedData:
    p = parse_params({"data": {"digits": {"holdout_fraction": fraction}}})
    return prepare_dataset("digits", p.data, seed)


def test_holdout_is_disjoint_stratified_and_seeded():
    plain, held = _digits(0.0), _digits(0.2)
    assert plain.y_holdout is None
    n = len(plain.y_train)
    assert len(held.y_train) + len(held.y_holdout) == n and len(held.y_holdout) == pytest.approx(
        0.2 * n, abs=1
    )
    # every held-out image comes from the training split and none of them is still trained on
    train_rows = {row.tobytes() for row in held.x_train}
    assert not any(row.tobytes() in train_rows for row in held.x_holdout)
    assert {row.tobytes() for row in plain.x_train} == train_rows | {row.tobytes() for row in held.x_holdout}
    np.testing.assert_array_equal(held.x_test, plain.x_test)  # the test set is untouched
    classes = np.bincount(held.y_holdout, minlength=10) / len(held.y_holdout)
    assert np.abs(classes - np.bincount(plain.y_train, minlength=10) / n).max() < 0.02  # stratified
    again = _digits(0.2)
    np.testing.assert_array_equal(again.x_holdout, held.x_holdout)
    assert not np.array_equal(_digits(0.2, seed=1).y_holdout, held.y_holdout)


def test_holdout_survives_save_and_load(tmp_path):
    held = _digits(0.25)
    save_prepared(held, tmp_path / "d")
    back = load_prepared(tmp_path / "d")
    np.testing.assert_array_equal(back.x_holdout, held.x_holdout)
    np.testing.assert_array_equal(back.y_holdout, held.y_holdout)
    save_prepared(_digits(0.0), tmp_path / "plain")
    assert load_prepared(tmp_path / "plain").y_holdout is None


def test_hold_out_keeps_the_kept_samples_in_order():
    info = DatasetInfo("digits", "digits", "static", 2, 1, 2)
    x = np.arange(40, dtype=np.float32).reshape(10, 1, 2, 2)
    y = np.array([0, 1] * 5)
    out = hold_out(PreparedData(info, x, y, x[:2], y[:2]), 0.4, seed=0)
    kept = out.x_train[:, 0, 0, 0]
    assert list(kept) == sorted(kept) and len(out.y_holdout) == 4


def test_policy_data_holdout_needs_a_held_out_split():
    raw = {
        "direct": {"r": {"dataset": "digits", "model": "resnet8"}},
        "seenn2": {"runs": ["r"], "policy_data": "holdout"},
    }
    with pytest.raises(ValueError, match="data.digits.holdout_fraction > 0"):
        parse_params(raw)
    parse_params({**raw, "seenn2": {"runs": ["r"]}})  # the paper's way (the default) needs none
    parse_params({**raw, "data": {"digits": {"holdout_fraction": 0.2}}})
