"""The validation split (`data.<dataset>.val_fraction`): part of the training split set aside before any
training, on which every run records its outputs and the exit-policy comparison chooses its operating
points: disjoint from the training, held-out and test inputs, stratified, seeded, saved."""

import numpy as np
import pytest

from pipeline.core.config import parse_params
from pipeline.data import prepare_dataset
from pipeline.data.prepared import load_prepared, save_prepared
from pipeline.training.context import Execution
from pipeline.training.feeds import eval_feed


def _digits(val: float, holdout: float = 0.0, seed: int = 0):
    p = parse_params({"data": {"digits": {"val_fraction": val, "holdout_fraction": holdout}}})
    return prepare_dataset("digits", p.data, seed)


def _rows(x: np.ndarray) -> set[bytes]:
    return {row.tobytes() for row in x}


def test_validation_is_disjoint_stratified_and_seeded():
    plain, split = _digits(0.0), _digits(0.2)
    assert plain.y_val is None and parse_params({}).data.cifar10.val_fraction == 0.1
    n = len(plain.y_train)
    assert len(split.y_train) + len(split.y_val) == n and len(split.y_val) == pytest.approx(0.2 * n, abs=1)
    assert not _rows(split.x_val) & _rows(split.x_train)  # never trained on
    assert _rows(plain.x_train) == _rows(split.x_train) | _rows(split.x_val)
    np.testing.assert_array_equal(split.x_test, plain.x_test)  # the test set is untouched
    shares = np.bincount(split.y_val, minlength=10) / len(split.y_val)
    assert np.abs(shares - np.bincount(plain.y_train, minlength=10) / n).max() < 0.02  # stratified
    np.testing.assert_array_equal(_digits(0.2).x_val, split.x_val)
    assert not np.array_equal(_digits(0.2, seed=1).y_val, split.y_val)


def test_a_held_out_split_does_not_change_the_validation_inputs():
    """Validation is set aside first: asking for SEENN-II's held-out split too takes it from what remains."""
    both, val_only = _digits(0.2, holdout=0.2), _digits(0.2)
    np.testing.assert_array_equal(both.x_val, val_only.x_val)
    assert not _rows(both.x_holdout) & _rows(both.x_val) and not _rows(both.x_holdout) & _rows(both.x_train)


def test_validation_survives_save_and_load_and_feeds(tmp_path):
    split = _digits(0.2)
    save_prepared(split, tmp_path / "d")
    back = load_prepared(tmp_path / "d")
    np.testing.assert_array_equal(back.x_val, split.x_val)
    np.testing.assert_array_equal(back.y_val, split.y_val)
    labels = np.concatenate([y.numpy() for _, y in eval_feed(back, "val", "cpu", Execution()).batches(None)])
    np.testing.assert_array_equal(labels, split.y_val)  # in order, every validation input once
    save_prepared(_digits(0.0), tmp_path / "plain")
    plain = load_prepared(tmp_path / "plain")
    with pytest.raises(ValueError, match="data.digits.val_fraction > 0"):
        eval_feed(plain, "val", "cpu", Execution())


def test_bad_val_fraction_is_one_line():
    with pytest.raises(ValueError, match="val_fraction"):
        parse_params({"data": {"digits": {"val_fraction": 1.0}}})
