"""Tables 1-5 rendered as markdown in the paper's layouts: wide (Tables 1, 2: a column per dataset x
slot), long (Tables 3, 4: Model / Method / T / Acc) and AET (Table 5), with the general and per-cell notes.
The tidy frames come from `pipeline.report.tables`."""

import math
from collections.abc import Sequence

import pandas as pd

from pipeline.report.markdown import NO_VALUE, pipe_table
from pipeline.report.paper import PAPER_DATASET_LABELS
from pipeline.report.results import RunResult

_NO_VALUE = NO_VALUE
_SEP = " · "


def _number(value: float, digits: int = 2) -> str:
    """Timesteps print as integers when whole (fixed T), else with `digits` decimals (averages)."""
    if math.isnan(value):
        return _NO_VALUE
    return str(int(value)) if float(value).is_integer() else f"{value:.{digits}f}"


def _acc_t(accuracy: float, timesteps: float) -> str:
    """`95.12 (1.21)`; `— (2.53)` when only the timesteps are known."""
    acc = _NO_VALUE if math.isnan(accuracy) else f"{accuracy:.2f}"
    return acc if math.isnan(timesteps) else f"{acc} ({_number(timesteps)})"


def _pm(value: float, low: float, high: float, digits: int) -> str:
    """`96.85 [95.00, 98.03]`: the value and its 95 % interval; the value alone when the interval is
    unknown or empty (a fixed T)."""
    text = f"{value:.{digits}f}"
    if math.isnan(low) or math.isnan(high) or high - low < 10 ** -(digits + 1):
        return text
    return f"{text} [{low:.{digits}f}, {high:.{digits}f}]"


def _seeds(row: pd.Series) -> int:
    """Seeds behind our number (1 unless the run has seed replicas)."""
    n = row.get("n_seeds", math.nan)
    return 1 if n is None or math.isnan(n) else int(n)


def _over_seeds(row: pd.Series, key: str, digits: int) -> str:
    """`97.04 ± 0.31`: the mean over seeds ± their standard deviation (the only use of ±)."""
    return f"{row[key]:.{digits}f} ± {row[f'{key}_std']:.{digits}f}"


def _ours_text(row: pd.Series) -> str:
    """Our accuracy and timesteps, each with its 95 % interval: `97.04 [95.61, 98.05] (1.23 [1.19, 1.27])`;
    over several seeds, the mean ± the standard deviation and the number of seeds: `97.04 ± 0.31 (1.23 ±
    0.02) [2 seeds]`."""
    if row["status"] not in ("compared", "ours"):
        return "not run" if row["status"] == "not run" else _NO_VALUE
    accuracy, timesteps = row["ours_accuracy"], row["ours_timesteps"]
    if math.isnan(accuracy):
        return _acc_t(accuracy, timesteps)
    if _seeds(row) > 1:
        acc = _over_seeds(row, "ours_accuracy", 2)
        fixed = row.get("policy") == "fixed" and float(timesteps).is_integer()
        steps = str(int(timesteps)) if fixed else _over_seeds(row, "ours_timesteps", 2)
        return f"{acc} ({steps}) [{_seeds(row)} seeds]"
    acc = _pm(accuracy, row.get("ours_accuracy_low", math.nan), row.get("ours_accuracy_high", math.nan), 2)
    if math.isnan(timesteps):
        return acc
    if float(timesteps).is_integer() and row.get("policy") == "fixed":
        return f"{acc} ({int(timesteps)})"
    low, high = row.get("ours_timesteps_low", math.nan), row.get("ours_timesteps_high", math.nan)
    steps = _pm(timesteps, low, high, 2)
    return f"{acc} ({steps})"


def _paper_text(row: pd.Series) -> str:
    if math.isnan(row["paper_accuracy"]) and math.isnan(row["paper_timesteps"]):
        return _NO_VALUE
    return _acc_t(row["paper_accuracy"], row["paper_timesteps"])


def _method_text(row: pd.Series) -> str:
    paper_method = row["paper_method"]
    if isinstance(paper_method, str) and paper_method != row["method"]:
        return f"{row['method']} vs paper {paper_method}"
    return row["method"]


def _wide(tidy: pd.DataFrame) -> str:
    """Rows (Model, Method); one column per dataset x slot; cells 'ours · paper X'."""
    columns = list(dict.fromkeys(zip(tidy["dataset"], tidy["slot"])))
    columns.sort(key=lambda c: (list(dict.fromkeys(tidy["dataset"])).index(c[0]), c[1]))
    label_of = dict(zip(tidy["dataset"], tidy["dataset_label"]))
    slot_label = dict(zip(tidy["slot"], tidy["slot_label"]))
    cells: dict[tuple, dict[tuple, str]] = {}
    for _, row in tidy.iterrows():
        key = (row["model"], _method_text(row))
        text = _ours_text(row)
        if row["dataset"] in PAPER_DATASET_LABELS:  # only the paper's datasets have a paper value
            text += f"{_SEP}paper {_paper_text(row)}"
        cells.setdefault(key, {})[(row["dataset"], row["slot"])] = text
    header = ["Model", "Method"] + [f"{label_of[d]} {slot_label[s]}" for d, s in columns]
    lines = [
        [model, method] + [by_col.get(col, "") for col in columns]
        for (model, method), by_col in cells.items()
    ]
    return pipe_table(header, lines)


def _long(tidy: pd.DataFrame) -> str:
    """One line per (model, method, dataset, slot), as the paper's Table 3 (Model / Method / T / Acc)."""
    header = [
        "Training",
        "Model",
        "Method",
        "Dataset",
        "T (ours)",
        "Acc % (ours)",
        "T (paper)",
        "Acc % (paper)",
    ]
    lines = []
    for _, row in tidy.iterrows():
        ours_ok = row["status"] in ("compared", "ours")
        paper_empty = math.isnan(row["paper_accuracy"]) and math.isnan(row["paper_timesteps"])
        if not ours_ok and paper_empty and row["slot"] > 1:  # an empty line says nothing slot 1 did not
            continue
        steps = _number(row["ours_timesteps"]) if ours_ok else _NO_VALUE
        acc = _ours_text(row).split(" (")[0] if ours_ok else _ours_text(row)
        if ours_ok and _seeds(row) > 1 and not math.isnan(row["ours_accuracy"]):  # mean ± std over seeds
            acc = f"{_over_seeds(row, 'ours_accuracy', 2)} [{_seeds(row)} seeds]"
            steps = steps if row.get("policy") == "fixed" else _over_seeds(row, "ours_timesteps", 2)
        lines.append(
            [
                row["section"],
                row["model"],
                _method_text(row),
                row["dataset_label"],
                steps,
                acc,
                _number(row["paper_timesteps"]),
                _NO_VALUE if math.isnan(row["paper_accuracy"]) else f"{row['paper_accuracy']:.2f}",
            ]
        )
    return pipe_table(header, lines)


def _aet(tidy: pd.DataFrame) -> str:
    header = [
        "Training",
        "Model",
        "Dataset",
        "T",
        "AET (ours)",
        "AET (paper)",
        "empirical AET (ours)",
        "empirical AET (paper)",
    ]

    def four(value: float, status: str = "") -> str:
        if status == "not run":
            return "not run"
        return _NO_VALUE if math.isnan(value) else f"{value:.4f}"

    def ours(row: pd.Series, key: str) -> str:
        text = four(row[key], row["status"])
        if _seeds(row) > 1 and text not in ("not run", _NO_VALUE):
            return f"{_over_seeds(row, key, 4)} [{_seeds(row)} seeds]"
        low, high = row.get(f"{key}_low", math.nan), row.get(f"{key}_high", math.nan)
        if text in ("not run", _NO_VALUE) or math.isnan(low) or math.isnan(high):
            return text
        return f"{text} [{low:.3f}, {high:.3f}]"

    lines = [
        [
            row["section"],
            row["model"],
            row["dataset_label"],
            str(row["T"]),
            ours(row, "ours_aet"),
            four(row["paper_aet"]),
            ours(row, "ours_empirical_aet"),
            four(row["paper_empirical_aet"]),
        ]
        for _, row in tidy.iterrows()
    ]
    return pipe_table(header, lines)


def _cell_notes(tidy: pd.DataFrame) -> list[str]:
    """Per-cell notes of the tidy frame (transcription caveats, missing slots), each with where it applies."""
    if "note" not in tidy or tidy["note"].isna().all():
        return []
    if "slot" not in tidy:  # Table 5: one line per (model, dataset)
        noted = tidy[tidy["note"].notna()]
        return [f"{r.note} ({r.model} · {r.dataset_label})" for r in noted.itertuples()]
    cells_per = tidy.groupby(["model", "method", "dataset_label"], sort=False).size()
    cells_per_row = tidy.groupby(["model", "method"], sort=False).size()
    where: dict[str, list[str]] = {}
    noted = tidy[tidy["note"].notna()]
    for (note, model, method), cells in noted.groupby(["note", "model", "method"], sort=False):
        # Name the datasets (or single slots) a note covers, unless it covers the whole row.
        parts = []
        for label, group in cells.groupby("dataset_label", sort=False):
            whole = len(group) == cells_per[(model, method, label)]
            parts.append(label if whole else f"{label} " + ", ".join(group["slot_label"]))
        whole_row = len(cells) == cells_per_row[(model, method)]
        place = [model, method] + ([] if whole_row else [", ".join(parts)])
        where.setdefault(note, []).append(" · ".join(place))
    return [f"{note} ({'; '.join(places)})" for note, places in where.items()]


def to_markdown(tidy: pd.DataFrame, title: str, notes: Sequence[str] = (), layout: str | None = None) -> str:
    """Render a tidy table in the paper's layout, with a title line and notes.

    Args:
        tidy: the output of one of `table1` .. `table5`.
        title: first line of the output (e.g. `TABLE_TITLES[1]`).
        notes: general notes (see `table_notes`); the tidy frame's per-cell notes are appended.
        layout: "wide" (Tables 1, 2: a column per dataset x slot), "long" (Tables 3, 4: Model / Method /
            T / Acc) or "aet" (Table 5); None picks it from the tidy frame's table number.

    Returns:
        Markdown text ending with a newline.
    """
    if layout is None:
        table = int(tidy["table"].iloc[0]) if len(tidy) else 1
        layout = {3: "long", 4: "long", 5: "aet"}.get(table, "wide")
    render = {"wide": _wide, "long": _long, "aet": _aet}
    if layout not in render:
        raise ValueError(f"layout must be one of {sorted(render)}, got {layout!r}")
    parts = [f"### {title}", "", render[layout](tidy) if len(tidy) else "(no rows)"]
    all_notes = list(notes) + _cell_notes(tidy)
    if all_notes:
        parts += ["", "Notes:", *[f"- {note}" for note in all_notes]]
    return "\n".join(parts) + "\n"


def table_notes(
    runs: Sequence[RunResult],
    alphas: Sequence[float] = (),
    timesteps: Sequence[int | None] = (),
    betas: Sequence[float] | None = None,
) -> list[str]:
    """General notes of a table: units, what the slots hold, and each run's deviations from the paper.

    Args:
        runs: the runs shown in the table.
        alphas: SEENN-I thresholds of the slots (first = headline); empty for Table 5.
        timesteps: fixed-T slots (None = the run's T); empty for Table 5.
        betas: SEENN-II betas, or None when the runs' own seenn2 rows are shown.
    """
    notes = []
    if alphas or timesteps:
        notes += [
            "Accuracy is top-1 in %; (x) is the number of timesteps: T for fixed-T rows, the average "
            "timesteps per test input for SEENN rows. Our values carry their 95 % interval [low, high] over "
            "the run's test inputs (Wilson for an accuracy, normal for an average). An interval describes "
            "one number; whether two numbers differ is a paired test on the same inputs (the exit-policy "
            "comparison table).",
            "Cells show ours, then 'paper' with the published value for the same model, method, dataset "
            "and slot; 'not run': this profile did not run that model/dataset; '—': not reproduced "
            "(another method's baseline), not available, or not printed in the paper.",
        ]
    else:
        notes.append(
            "AET and empirical AET are in timesteps (lower is better); T is the run's full T; [low, high] "
            "is our 95 % bootstrap interval over the test inputs."
        )
    if alphas:
        shown = ", ".join(f"{a:g}" for a in alphas)
        notes.append(f"SEENN-I slots 1..{len(alphas)} use alpha = {shown} (slot 1 is the headline alpha).")
    if timesteps:
        shown = ", ".join("the run's T" if t is None else str(t) for t in timesteps)
        notes.append(f"Fixed-T slots use T = {shown}.")
    if alphas and betas is not None:
        notes.append(f"SEENN-II slots use beta = {', '.join(f'{b:g}' for b in betas)}.")
    elif alphas:
        notes.append("SEENN-II slots (where a run has them) show its seenn2 points by ascending beta.")
    seeded = [run for run in runs if run.replicas]
    if seeded:
        notes.append(
            "Cells marked [n seeds] are over n training seeds (params seed and extra_seeds; the same data "
            "split and test inputs): the mean ± the standard deviation over the seeds (± means this and "
            "nothing else here); the CSV also has the 95 % Student-t interval of the mean over the seeds, "
            "clipped to what the value can be (*_low, *_high), the std (*_std) and n_seeds. "
            "SEENN-II cells use the seed `seed` only."
        )
    for run in runs:
        deviation = f" ({run.model_note})" if run.model_note else ""
        route = {"direct": "direct training", "conversion": "ANN-SNN conversion"}.get(run.method, run.method)
        notes.append(
            f"Run {run.run}: {run.paper_model}{deviation}, {route}, T = {run.T}, "
            f"on {run.label}, {run.n_test} test inputs."
        )
    return notes
