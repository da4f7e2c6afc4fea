"""What the paper tables (`tables`, `table5`) share: dataset and model labels of the runs, and the tidy
frame with the dtypes its CSV twin reads back with."""

import math
from collections.abc import Sequence

import numpy as np
import pandas as pd

from pipeline.report.paper import PAPER_DATASET_LABELS
from pipeline.report.results import RunResult


def dataset_label(dataset: str, runs: Sequence[RunResult] = ()) -> str:
    """Column label of a dataset: the paper's name for its datasets, the run's own label otherwise."""
    if dataset in PAPER_DATASET_LABELS:
        return PAPER_DATASET_LABELS[dataset]
    for run in runs:
        if run.dataset == dataset:
            return run.label
    return dataset


def model_keys(runs: Sequence[RunResult]) -> dict[str, str]:
    """Run name -> model label; a second run of the same model on the same dataset gets its run name."""
    keys, seen = {}, set()
    for run in runs:
        key = (run.paper_model, run.dataset)
        keys[run.run] = run.paper_model if key not in seen else f"{run.paper_model} ({run.run})"
        seen.add(key)
    return keys


def nan_of(value: float | None) -> float:
    return math.nan if value is None else float(value)


def interval_end(run: RunResult | None, interval: str, which: int) -> float:
    ci = None if run is None else getattr(run, interval)
    return math.nan if ci is None else float(ci[which])


TEXT_COLUMNS = (
    "section",
    "model",
    "method",
    "paper_method",
    "dataset",
    "dataset_label",
    "slot_label",
    "run",
    "policy",
    "status",
    "note",
)


def frame(rows: list[dict]) -> pd.DataFrame:
    """Tidy frame with the dtypes `pd.read_csv` gives its CSV twin, so the two compare equal.

    Missing text is NaN (not None); a text column with no value at all is float NaN, as read back.
    """
    frame = pd.DataFrame(rows)
    for column in frame.columns:
        if column in ("table", "slot", "T"):
            frame[column] = frame[column].astype(np.int64)
        elif column in TEXT_COLUMNS:
            values = frame[column]
            frame[column] = np.nan if values.isna().all() else values.where(values.notna(), np.nan)
    return frame
