"""Tests for `stages/common.py`: the data-folder rule and the seed override the seed replicas' stages use."""

from pathlib import Path

import pytest
import typer

from pipeline.core.config import parse_params
from stages.common import dataset_folder, with_seed


def _prepared(folder: Path) -> Path:
    folder.mkdir(parents=True)
    (folder / "info.json").write_text("{}")
    return folder


def test_a_prepared_dataset_folder_is_used_as_given(tmp_path):
    digits = _prepared(tmp_path / "data" / "digits")
    assert dataset_folder(digits, "digits") == digits


def test_the_folder_of_datasets_resolves_to_the_runs_dataset(tmp_path):
    _prepared(tmp_path / "data" / "digits")
    dvs = _prepared(tmp_path / "data" / "digits_dvs")
    assert dataset_folder(tmp_path / "data", "digits_dvs") == dvs


def test_a_missing_dataset_keeps_the_given_folder_for_the_error(tmp_path):
    """Nothing prepared yet: the folder given comes back, so the loader's error names it."""
    assert dataset_folder(tmp_path / "data" / "digits", "digits") == tmp_path / "data" / "digits"
    assert dataset_folder(tmp_path / "data", "digits") == tmp_path / "data"


def test_with_seed_replaces_only_the_seed():
    p = parse_params({"seed": 0, "alpha": 0.9})
    assert with_seed(p, None) is p
    q = with_seed(p, 3)
    assert (q.seed, q.alpha) == (3, 0.9)
    with pytest.raises(typer.Exit):
        with_seed(p, -1)
