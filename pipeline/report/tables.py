"""Tables 1-5: our runs beside the paper's published numbers.

Each `tableN` is a pure function returning a TIDY long DataFrame, one line per (model, method, dataset,
slot), which is also the table's CSV twin; `pipeline.report.table_markdown` renders it in the paper's
layout. Accuracy is in
% throughout the tidy frame (the run folders store fractions); timesteps are T for fixed-T rows and the
average timesteps per test input for SEENN rows.

Tidy columns (Tables 1-4): table, section, model, method, paper_method, dataset, dataset_label, slot,
slot_label, run, policy, param, ours_accuracy, ours_timesteps, paper_accuracy, paper_timesteps, status,
note. Table 5: table, section, model, dataset, dataset_label, T, run, ours_aet, ours_empirical_aet,
paper_aet, paper_empirical_aet, status, note.

status: "compared" (ours and the paper's), "ours" (no paper value, e.g. a stand-in dataset), "not run"
(a method we implement, but the profile did not run this model/dataset), "n/a" (the run exists but this
slot is not available in it), "baseline" (another method's published number; not reproduced).
"""

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from pipeline.exits.stats import seed_summary
from pipeline.report.paper import PAPER_ROWS, PaperRow
from pipeline.report.results import RunResult
from pipeline.report.table5 import table5  # noqa: F401 (Table 5 lives there)
from pipeline.report.tidy import dataset_label, frame, model_keys, nan_of

# Which run datasets feed which table: the embedded stand-ins sit beside the paper's datasets.
TABLE12_DATASETS = ("cifar10", "cifar100", "digits")  # Tables 1, 2 (digits stands in for CIFAR)
IMAGENET_DATASETS = ("imagenet",)  # Table 3
EVENT_DATASETS = ("cifar10_dvs", "digits_dvs")  # Table 4 (digits_dvs: simulated events)

TABLE_TITLES: dict[int, str] = {
    1: "Table 1: Accuracy-T comparison of direct training SNN methods (CIFAR; ours beside the paper's)",
    2: "Table 2: Accuracy-T comparison of ANN-SNN conversion methods (CIFAR; ours beside the paper's)",
    3: "Table 3: Accuracy-T comparison on ImageNet (ours beside the paper's)",
    4: "Table 4: Accuracy-T comparison on CIFAR10-DVS / event data (ours beside the paper's)",
    5: "Table 5: AET (eq. 4) and empirical AET (eq. 13) per model and dataset (ours beside the paper's)",
}


@dataclass(frozen=True)
class _OurRow:
    """A table row we reproduce: which sweep policy fills it and which printed row it sits beside."""

    method: str  # our row's label
    policy: str  # sweep.csv policy filling its slots
    paper_method: str | None  # the paper's row compared with it (merged into ours), if any


_DIRECT_ROWS = (
    _OurRow("TET, fixed T (ours)", "fixed", "TET [30]"),
    _OurRow("SEENN-I (Ours)", "seenn1", "SEENN-I (Ours)"),
    _OurRow("SEENN-II (Ours)", "seenn2", "SEENN-II (Ours)"),
)
_CONVERSION_ROWS = (
    _OurRow("QCFS (fixed T)", "fixed", "QCFS [18]"),
    _OurRow("SEENN-I (Ours)", "seenn1", "SEENN-I (Ours)"),
)
_OUR_ROWS = {"direct": _DIRECT_ROWS, "conversion": _CONVERSION_ROWS}


def _slot_params(run: RunResult, spec: _OurRow, params: dict[str, Sequence]) -> list:
    """The sweep param of each slot of our row: T for fixed, alpha for SEENN-I, beta for SEENN-II."""
    if spec.policy == "fixed":
        return [run.T if t is None else int(t) for t in params["fixed"]]
    if spec.policy == "seenn2" and params["seenn2"] is None:
        # No betas asked for: the run's own seenn2 operating points, as many as there are SEENN-I slots.
        return list(run.policy_rows("seenn2")["param"])[: len(params["seenn1"])]
    return list(params[spec.policy])


def _n_slots(spec: _OurRow, params: dict[str, Sequence]) -> int:
    """Number of slots our row fills: one per fixed T / alpha / beta (SEENN-II defaults to SEENN-I's)."""
    if spec.policy == "seenn2" and params["seenn2"] is None:
        return len(params["seenn1"])
    return len(params[spec.policy])


def _our_cell(run: RunResult, spec: _OurRow, param) -> tuple[dict, str, str | None]:
    """(values, status, note) of one slot of our row in `run`; values: accuracy % and timesteps with
    their 95 % intervals over the test inputs, as tidy columns. With seed replicas that have the slot too,
    accuracy and timesteps are the mean over the seeds, with their standard deviation (`*_std`), the
    number of seeds (`n_seeds`), and as interval the 95 % t interval of the mean over the seeds."""
    values, status, note = _one_cell(run, spec, param)
    if status or not run.replicas:
        return values, status, note
    cells = [values] + [v for v, s, _ in (_one_cell(r, spec, param) for r in run.replicas) if not s]
    if len(cells) == 1:  # no replica has this slot (SEENN-II: finetuned on seed `seed` only)
        return values, status, note
    for key in ("accuracy", "timesteps"):
        bounds = (0.0, 100.0) if key == "accuracy" else (1.0, float(run.T))  # what the value can be
        summary = seed_summary(np.array([cell[f"ours_{key}"] for cell in cells]), bounds)
        values[f"ours_{key}"], values[f"ours_{key}_std"] = summary.mean, summary.std
        values[f"ours_{key}_low"], values[f"ours_{key}_high"] = summary.low, summary.high
    values["n_seeds"] = len(cells)
    return values, status, note


def _one_cell(run: RunResult, spec: _OurRow, param) -> tuple[dict, str, str | None]:
    """`_our_cell` in one run folder, its replicas left aside."""
    rows = run.policy_rows(spec.policy)
    if rows.empty:
        return {}, "not run", f"{run.run}: no {spec.policy} rows in sweep.csv"
    if spec.policy == "fixed" and param > run.T:
        return {}, "n/a", f"{run.run}: T = {param} exceeds the run's T = {run.T}"
    match = rows[np.isclose(rows["param"].to_numpy(dtype=np.float64), float(param))]
    if match.empty:
        # A requested alpha/beta missing from the sweep is a configuration error, not a table cell.
        raise ValueError(f"{run.run}: sweep.csv has no {spec.policy} row with param = {param}")
    row = match.iloc[0]
    values = {"ours_accuracy": 100.0 * float(row["accuracy"]), "ours_timesteps": float(row["avg_timesteps"])}
    for column, (tidy, scale) in INTERVALS.items():
        values[tidy] = scale * float(row[column]) if column in row.index else math.nan
    return values, "", None


def _tidy_row(
    table: int,
    section: str,
    model: str,
    method: str,
    paper_method: str | None,
    dataset: str,
    label: str,
    slot: int,
    **values,
) -> dict:
    base = {
        "table": table,
        "section": section,
        "model": model,
        "method": method,
        "paper_method": paper_method,
        "dataset": dataset,
        "dataset_label": label,
        "slot": slot,
        "slot_label": f"Acc{slot}(T{slot})",
        "run": None,
        "policy": None,
        "param": math.nan,
        "ours_accuracy": math.nan,
        "ours_timesteps": math.nan,
        "ours_accuracy_low": math.nan,  # 95 % Wilson interval of our accuracy (%)
        "ours_accuracy_high": math.nan,
        "ours_timesteps_low": math.nan,  # 95 % interval of our average timesteps (fixed T: T itself)
        "ours_timesteps_high": math.nan,
        "n_test": math.nan,  # test inputs behind our number
        "paper_accuracy": math.nan,
        "paper_timesteps": math.nan,
        "status": None,
        "note": None,
    }
    base.update(values)
    return base


def _join_notes(*notes: str | None) -> str | None:
    kept = [note for note in notes if note]
    return "; ".join(kept) if kept else None


def _row_order(methods: list[str], specs: Sequence[_OurRow], has_run: bool) -> list[str | _OurRow]:
    """Printed methods of one model, with ours in place of the printed row each reproduces.

    Ours without a printed counterpart (only shown when the model has a run) come just before the next
    of ours in (fixed T, SEENN-I, SEENN-II) order, or at the end.
    """
    order: list[str | _OurRow] = []
    for method in methods + [None]:
        spec = next((s for s in specs if method is not None and s.paper_method == method), None)
        if method is not None and spec is None:
            order.append(method)
            continue
        upto = specs.index(spec) if spec is not None else len(specs)
        order += [earlier for earlier in specs[:upto] if earlier not in order and has_run]
        if spec is not None:
            order.append(spec)
    return order


def _our_slots(
    spec: _OurRow,
    run: RunResult | None,
    printed: dict[int, PaperRow],
    params: dict[str, Sequence],
) -> list[dict]:
    """Values of our row for one dataset, one dict per slot, with the printed value of the same slot."""
    slot_params = _slot_params(run, spec, params) if run is not None else []
    out = []
    for slot in range(1, max([_n_slots(spec, params), *printed]) + 1):
        row = printed.get(slot)
        values = {
            "slot": slot,
            "paper_accuracy": nan_of(row.accuracy if row else None),
            "paper_timesteps": nan_of(row.timesteps if row else None),
            "note": row.note if row else None,
        }
        if run is None:
            values["status"] = "not run"
        elif not slot_params and spec.policy == "seenn2":
            why = f"{run.run}: no seenn2 rows in sweep.csv"
            values.update(status="not run", note=_join_notes(values["note"], why))
        elif slot > len(slot_params):
            values["status"] = "n/a"
        else:
            param = slot_params[slot - 1]
            ours, status, why = _our_cell(run, spec, param)
            has_paper = row is not None and (row.accuracy is not None or row.timesteps is not None)
            values.update(
                run=run.run,
                policy=spec.policy,
                param=float(param),
                n_test=run.n_test,
                **ours,
                note=_join_notes(values["note"], why),
                status=status or ("compared" if has_paper else "ours"),
            )
        out.append(values)
    return out


def _section_rows(
    table: int,
    section: str,
    runs: Sequence[RunResult],
    paper: Sequence[PaperRow],
    params: dict[str, Sequence],
    datasets: Sequence[str],
) -> list[dict]:
    """Tidy rows of one table section (direct or conversion): paper rows, ours merged beside them."""
    specs = _OUR_ROWS[section]
    printed = [row for row in paper if row.table == table and row.section == section]
    runs = [run for run in runs if run.method == section and run.dataset in datasets]
    model_of = model_keys(runs)
    run_at = {(model_of[run.run], run.dataset): run for run in runs}

    # Columns: the paper's datasets always (an unrun one still shows the paper's number), then ours.
    table_datasets = list(dict.fromkeys([row.dataset for row in printed] + [run.dataset for run in runs]))
    labels = {dataset: dataset_label(dataset, runs) for dataset in table_datasets}
    models = list(dict.fromkeys([row.model for row in printed] + list(model_of.values())))

    out = []
    for model in models:
        mine = [row for row in printed if row.model == model]
        methods = list(dict.fromkeys(row.method for row in mine))
        for item in _row_order(methods, specs, has_run=model in model_of.values()):
            if isinstance(item, str):  # another method's published row: the paper's number only
                out += [
                    _tidy_row(
                        table,
                        section,
                        model,
                        item,
                        item,
                        row.dataset,
                        labels[row.dataset],
                        row.slot,
                        paper_accuracy=nan_of(row.accuracy),
                        paper_timesteps=nan_of(row.timesteps),
                        status="baseline",
                        note=row.note,
                    )
                    for row in mine
                    if row.method == item
                ]
                continue
            # Name the printed row we sit beside only where this model has one.
            paper_method = item.paper_method if item.paper_method in methods else None
            for dataset in table_datasets:
                same = {
                    row.slot: row for row in mine if row.method == paper_method and row.dataset == dataset
                }
                for values in _our_slots(item, run_at.get((model, dataset)), same, params):
                    out.append(
                        _tidy_row(
                            table,
                            section,
                            model,
                            item.method,
                            paper_method,
                            dataset,
                            labels[dataset],
                            **values,
                        )
                    )
    return out


# sweep.csv interval columns -> (tidy column, scale to the tidy tables' units: accuracy in %)
INTERVALS = {
    "accuracy_low": ("ours_accuracy_low", 100.0),
    "accuracy_high": ("ours_accuracy_high", 100.0),
    "avg_timesteps_low": ("ours_timesteps_low", 1.0),
    "avg_timesteps_high": ("ours_timesteps_high", 1.0),
}


def _params(alphas: Sequence[float], timesteps: Sequence[int | None], betas: Sequence[float] | None) -> dict:
    if len(alphas) == 0:
        raise ValueError("alphas must name at least one SEENN-I threshold (the first is the headline)")
    betas = None if betas is None else list(betas)
    return {"fixed": list(timesteps), "seenn1": list(alphas), "seenn2": betas}


def table1(
    runs: Sequence[RunResult],
    paper: Sequence[PaperRow] = PAPER_ROWS,
    *,
    alphas: Sequence[float],
    timesteps: Sequence[int | None] = (1, 2, None),
    betas: Sequence[float] | None = None,
    datasets: Sequence[str] = TABLE12_DATASETS,
) -> pd.DataFrame:
    """Table 1: directly trained SNNs on static images (CIFAR, and our stand-ins).

    Args:
        runs: all loaded runs; only direct runs on `datasets` are used.
        paper: the paper's rows (defaults to the transcription in `paper.py`).
        alphas: SEENN-I thresholds of slots 1, 2, 3; the first is the headline alpha.
        timesteps: T of the fixed-T slots; None means the run's own T.
        betas: SEENN-II betas of the slots; None takes the run's seenn2 rows in sweep order of param.
        datasets: run datasets that belong in this table.

    Returns:
        The tidy table (see the module docstring for its columns).
    """
    return frame(_section_rows(1, "direct", runs, paper, _params(alphas, timesteps, betas), datasets))


def table2(
    runs: Sequence[RunResult],
    paper: Sequence[PaperRow] = PAPER_ROWS,
    *,
    alphas: Sequence[float],
    timesteps: Sequence[int | None] = (1, 2, None),
    datasets: Sequence[str] = TABLE12_DATASETS,
) -> pd.DataFrame:
    """Table 2: ANN-SNN conversion (QCFS) on static images; rows QCFS (fixed T) and SEENN-I.

    Args are those of `table1` (conversion runs only; no SEENN-II for converted SNNs, as in the paper).
    """
    return frame(_section_rows(2, "conversion", runs, paper, _params(alphas, timesteps, None), datasets))


def table3(
    runs: Sequence[RunResult],
    paper: Sequence[PaperRow] = PAPER_ROWS,
    *,
    alphas: Sequence[float],
    timesteps: Sequence[int | None] = (None,),
    betas: Sequence[float] | None = None,
    datasets: Sequence[str] = IMAGENET_DATASETS,
) -> pd.DataFrame:
    """Table 3: ImageNet, direct training then conversion (Model / Method / T / Acc).

    Args are those of `table1`; the fixed-T baselines of the paper use the full T, hence the default.
    """
    params = _params(alphas, timesteps, betas)
    rows = _section_rows(3, "direct", runs, paper, params, datasets)
    rows += _section_rows(3, "conversion", runs, paper, params, datasets)
    return frame(rows)


def table4(
    runs: Sequence[RunResult],
    paper: Sequence[PaperRow] = PAPER_ROWS,
    *,
    alphas: Sequence[float],
    timesteps: Sequence[int | None] = (1, 2, None),
    betas: Sequence[float] | None = None,
    datasets: Sequence[str] = EVENT_DATASETS,
) -> pd.DataFrame:
    """Table 4: directly trained SNNs on event data (CIFAR10-DVS; our simulated digits_dvs).

    Args are those of `table1`. Only two of the paper's values survive in the text (see `paper.py`).
    """
    return frame(_section_rows(4, "direct", runs, paper, _params(alphas, timesteps, betas), datasets))
