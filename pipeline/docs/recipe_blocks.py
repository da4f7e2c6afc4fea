"""The generated docs blocks of the benchmarks behind the fast recipe (docs/recipe.md): each ingredient
alone on one budget, the timestep curriculum against plain direct training, the direct net's width and
its number of short-T epochs, and the fused QCFS speed-up; each built from its committed JSON under
`reports/benchmarks/`."""

import json
from pathlib import Path

from pipeline.report.markdown import pipe_table


def p_text(value: float) -> str:
    return "< 0.001" if value < 0.001 else f"{value:.3f}"


def _acc(cell: dict) -> str:
    return f"{100 * cell['accuracy']:.2f} [{100 * cell['low']:.2f}, {100 * cell['high']:.2f}]"


def paired_interval(b: int, c: int, n: int) -> tuple[float, float]:
    """95 % paired t interval, in points, of an accuracy difference from its McNemar counts: the per-input
    difference is +1 on the c inputs only the variant gets right, -1 on the b only the other gets right."""
    import numpy as np

    from pipeline.exits.stats import paired_t

    diff = np.zeros(n)
    diff[:c], diff[c : c + b] = 1.0, -1.0
    t = paired_t(diff, np.zeros(n))
    return 100.0 * t.low, 100.0 * t.high


def _committed(reports: Path, name: str, script: str | None = None) -> dict | str:
    """The committed result `<name>.json` of `benchmarks/<script>.py` (default: `<name>.py`), or the line
    saying how to make it."""
    path = reports / "benchmarks" / f"{name}.json"
    if not path.is_file():
        command = f"python -m benchmarks.{script or name} --out {path}"
        return f"`{path.name}` is not committed yet: run `{command}`."
    return json.loads(path.read_text())


def _paired_cell(row: dict, key: str) -> str:
    """A benchmark row's paired test difference `row[key]` (points) with its interval and McNemar test,
    or a dash for the reference row (no McNemar counts)."""
    if "mcnemar_p" not in row:
        return "—"
    low, high = paired_interval(row["mcnemar_b"], row["mcnemar_c"], row["test"]["n"])
    return (
        f"{row[key]:+.2f} [{low:+.2f}, {high:+.2f}] "
        f"(b {row['mcnemar_b']}, c {row['mcnemar_c']}, p {p_text(row['mcnemar_p'])})"
    )


def recipe_ablation(reports: Path) -> str:
    """The fast recipe's ingredients, each alone on one budget: `reports/benchmarks/recipe_ablation.json`."""
    doc = _committed(reports, "recipe_ablation")
    if isinstance(doc, str):
        return doc

    rows = []
    for row in doc["rows"]:
        diff = _paired_cell(row, "test_minus_paper_pts")
        seconds = f"{row['train_seconds']:.0f}" if row["train_seconds"] else "(no training)"
        rows.append([row["variant"], _acc(row["val"]), _acc(row["test"]), diff, seconds])
    header = ["recipe", "val. acc. (%)", "test acc. (%)", "test Δ vs paper, pts (McNemar)", "train s"]
    n_val, n_test = doc["rows"][0]["val"]["n"], doc["rows"][0]["test"]["n"]
    note = (
        f"QCFS ANN `{doc['model']}` at width {doc['width']}, {doc['epochs']} epochs on "
        f"{doc['train_images']:,} training images ({n_val:,} validation, {n_test:,} test images); "
        "ingredient values "
        + ", ".join(f"{k} {v}" for k, v in doc["ingredients"].items())
        + ". Accuracy with its 95 % Wilson interval; Δ: paired difference from the paper's recipe on the "
        "same test images with its 95 % paired t interval, exact McNemar p (b: right with the paper's "
        "recipe only, c: with the variant only); "
        f"one seed; train s: the wall time of one run (runs of the same training here differ by tens of "
        f"seconds). `{doc['command']}` on {doc['machine'].get('cpu')}, "
        f"{doc['machine'].get('threads')} threads."
    )
    return pipe_table(header, rows) + "\n\n" + note


def timestep_curriculum(reports: Path) -> str:
    """Direct training with the timestep curriculum against plain training at T on about the same wall
    time: `reports/benchmarks/timestep_curriculum.json`."""
    doc = _committed(reports, "timestep_curriculum")
    if isinstance(doc, str):
        return doc
    rows = []
    for row in doc["rows"]:
        diff = _paired_cell(row, "test_minus_plain_pts")
        rows.append(
            [row["variant"], _acc(row["val"]), _acc(row["test"]), diff, f"{row['train_seconds']:.0f}"]
        )
    header = [
        "training",
        "val. acc. (%)",
        "test acc. (%)",
        "test Δ vs T throughout, pts (McNemar)",
        "train s",
    ]
    n_val, n_test = doc["rows"][0]["val"]["n"], doc["rows"][0]["test"]["n"]
    note = (
        f"TET `{doc['model']}` at width {doc['width']}, T = {doc['T']}, on {doc['train_images']:,} training "
        f"images ({n_val:,} validation, {n_test:,} test images); accuracy of the output accumulated over "
        "all T steps with its 95 % Wilson interval; Δ: paired difference on the same test images with its "
        "95 % paired t interval, exact McNemar p (b: right with training at T throughout only, c: with the "
        f"curriculum only); one seed; train s: wall time including each epoch's test pass. "
        f"`{doc['command']}` on {doc['machine'].get('cpu')}, {doc['machine'].get('threads')} threads."
    )
    return pipe_table(header, rows) + "\n\n" + note


def _schedule(row: dict, T: int) -> str:
    """A direct row's epochs as `short + at T` (from each epoch's T), or the plain count without a
    curriculum."""
    at_T = sum(1 for t in row["epoch_T"] if t == T)
    short = len(row["epoch_T"]) - at_T
    return f"{short} + {at_T}" if short else f"{at_T}"


def direct_width(reports: Path, name: str = "direct_width") -> str:
    """The directly trained net at several widths and numbers of short-T epochs, each with the run's
    curriculum: `reports/benchmarks/<name>.json` (`direct_width`, `direct_epochs`)."""
    doc = _committed(reports, name, "direct_width")
    if isinstance(doc, str):
        return doc
    T, rows = doc["T"], []
    for row in doc["rows"]:
        steps = " / ".join(f"{100 * a:.1f}" for a in row["test_after_step"])
        rows.append(
            [
                f"{row['width']:g}",
                _schedule(row, T),
                _acc(row["val"]),
                _acc(row["test"]),
                steps,
                _paired_cell(row, "test_minus_first_pts"),
                f"{row['train_seconds']:.0f}",
            ]
        )
    first = doc["rows"][0]
    header = [
        "width",
        f"epochs (T = {doc['curriculum_T']} + T = {T})" if doc["curriculum_T"] else "epochs",
        "val. acc. (%)",
        "test acc. (%)",
        "test acc. after 1 ... T steps (%)",
        f"test Δ vs width {first['width']:g}, {_schedule(first, T)} epochs, pts (McNemar)",
        "train s",
    ]
    n_val, n_test = first["val"]["n"], first["test"]["n"]
    schedule = (
        f"the run's curriculum (epochs at T = {doc['curriculum_T']}, then at T = {T}; one learning-rate "
        "schedule over all of them)"
        if doc["curriculum_T"]
        else "no curriculum"
    )
    note = (
        f"TET `{doc['model']}`, T = {T}, {schedule}, on {doc['train_images']:,} training images "
        f"({n_val:,} validation, {n_test:,} test images); accuracy "
        "of the output accumulated over all T steps (or over the first steps) with its 95 % Wilson interval; "
        "Δ: paired difference on the same test images with its 95 % paired t interval, exact McNemar p (b: "
        "right with the first row's training only, c: with this row's only); one seed; train s: wall time "
        "including each epoch's test pass. "
        f"`{doc['command']}` on {doc['machine'].get('cpu')}, {doc['machine'].get('threads')} threads."
    )
    return pipe_table(header, rows) + "\n\n" + note


def qcfs_speed(reports: Path) -> str:
    """The fused QCFS activation against the reference path: `reports/benchmarks/qcfs_speed.json`."""
    doc = _committed(reports, "qcfs_speed")
    if isinstance(doc, str):
        return doc
    ref, fused = (doc["paths"][k]["images_per_s"] for k in ("reference", "fused"))
    return (
        f"QCFS `{doc['model']}` at width {doc['width']}, batch {doc['batch_size']}, "
        f"{doc['input_size']}x{doc['input_size']} inputs, channels-last: the reference path trains "
        f"{ref:.0f} images/s, the fused one {fused:.0f} images/s, **{doc['speedup']:.2f}x** (median of "
        f"{doc['steps']} alternating steps each). `{doc['command']}` on {doc['machine'].get('cpu')}, "
        f"{doc['machine'].get('threads')} threads."
    )


def allocator_speed(reports: Path) -> str:
    """Training steps with glibc's default allocator against freed memory kept for reuse:
    `reports/benchmarks/allocator_speed.json`."""
    doc = _committed(reports, "allocator_speed")
    if isinstance(doc, str):
        return doc
    tet, qcfs, work = doc["tet"], doc["qcfs"], doc["workloads"]
    names = {
        "tet": f"TET `fastvgg` x{tet['width']}, T = {tet['T']}, batch {tet['batch_size']}",
        "qcfs": f"QCFS ANN `fastvgg` x{qcfs['width']}, batch {qcfs['batch_size']}",
    }
    header = ["training step", "default allocator (images/s)", "freed memory kept (images/s)", "speed-up"]
    rows = [
        [
            names[w],
            f"{work[w]['default']['images_per_s']:.0f}",
            f"{work[w]['kept']['images_per_s']:.0f}",
            f"**{work[w]['speedup']:.2f}x**",
        ]
        for w in ("tet", "qcfs")
    ]
    note = (
        f"{doc['input_size']}x{doc['input_size']} random inputs, channels-last, CPU pinned to "
        f"{doc['isa']}; median of {doc['steps']} steps in each of {doc['rounds']} processes per allocator, "
        f"the processes alternating. `{doc['command']}` on {doc['machine'].get('cpu')}, "
        f"{doc['machine'].get('threads')} threads."
    )
    return pipe_table(header, rows) + "\n\n" + note
