"""Table 5: AET (eq. 4) and empirical AET (eq. 13) of every run beside the paper's, as a tidy frame (the
CSV twin); with seed replicas, each value is the mean over the seeds with its spread."""

import math
from collections.abc import Sequence

import numpy as np
import pandas as pd

from pipeline.exits.stats import seed_summary
from pipeline.report.paper import PAPER_AET, PaperAET
from pipeline.report.results import RunResult
from pipeline.report.tidy import dataset_label, frame, interval_end, model_keys


def table5(runs: Sequence[RunResult], paper: Sequence[PaperAET] = PAPER_AET) -> pd.DataFrame:
    """Table 5: AET and empirical AET for every run, beside the paper's rows (matched on model, dataset, T).

    Args:
        runs: all loaded runs (direct and conversion).
        paper: the paper's Table 5 rows.

    Returns:
        Tidy table with columns table, section, model, dataset, dataset_label, T, run, ours_aet,
        ours_empirical_aet, paper_aet, paper_empirical_aet, status, note.
    """
    model_of = model_keys(runs)
    rows, used = [], set()
    for row in paper:
        run = next(
            (
                r
                for r in runs
                if r.run not in used
                and (r.method, r.paper_model, r.dataset, r.T) == (row.section, row.model, row.dataset, row.T)
            ),
            None,
        )
        if run is not None:
            used.add(run.run)
        label = dataset_label(row.dataset, runs)
        rows.append(
            _aet_row(row.section, row.model, row.dataset, label, row.T, run, row.aet, row.empirical_aet)
        )
    for run in runs:
        if run.run not in used:
            rows.append(
                _aet_row(
                    run.method, model_of[run.run], run.dataset, run.label, run.T, run, math.nan, math.nan
                )
            )
    return frame(rows)


def _aet_row(
    section: str,
    model: str,
    dataset: str,
    label: str,
    T: int,
    run: RunResult | None,
    paper_aet: float,
    paper_empirical: float,
) -> dict:
    has_paper = not math.isnan(paper_aet)
    status = "not run" if run is None else ("compared" if has_paper else "ours")
    return {
        "table": 5,
        "section": section,
        "model": model,
        "dataset": dataset,
        "dataset_label": label,
        "T": int(T),
        "run": None if run is None else run.run,
        "ours_aet": math.nan if run is None else run.aet,
        "ours_aet_low": interval_end(run, "aet_ci", 0),  # 95 % bootstrap interval over the test inputs
        "ours_aet_high": interval_end(run, "aet_ci", 1),
        "ours_empirical_aet": math.nan if run is None else run.empirical_aet,
        "ours_empirical_aet_low": interval_end(run, "empirical_aet_ci", 0),
        "ours_empirical_aet_high": interval_end(run, "empirical_aet_ci", 1),
        "paper_aet": paper_aet,
        "paper_empirical_aet": paper_empirical,
        "status": status,
        "note": None,
        **(_aet_over_seeds(run) if run is not None and run.replicas else {}),
    }


def _aet_over_seeds(run: RunResult) -> dict:
    """Table 5 with seed replicas: each AET as the mean over the seeds, its standard deviation, the 95 % t
    interval of the mean over the seeds, and the number of seeds."""
    values: dict = {"n_seeds": 1 + len(run.replicas)}
    for key in ("aet", "empirical_aet"):
        summary = seed_summary(np.array([getattr(r, key) for r in (run, *run.replicas)]), (1.0, float(run.T)))
        values[f"ours_{key}"], values[f"ours_{key}_std"] = summary.mean, summary.std
        values[f"ours_{key}_low"], values[f"ours_{key}_high"] = summary.low, summary.high
    return values
