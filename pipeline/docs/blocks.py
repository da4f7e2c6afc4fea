"""Generated blocks in README.md and docs/: every results table there is rewritten from the committed files
under `reports/`, so the numbers a reader sees cannot drift from the reports.

A block is marked in a markdown file as

    <!-- BEGIN GENERATED: results-embedded -->
    ...
    <!-- END GENERATED -->

and `BLOCKS` maps its name to a function that builds the markdown from a reports folder (a caller may add
blocks of its own, e.g. the command-line reference that `seenn docs` builds from the Typer app). `rewrite`
fills every block of the given files; `stale_blocks` lists the blocks whose text differs from what the
reports give now (`seenn docs --check`).
"""

import json
import math
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from pipeline.docs.recipe_blocks import (
    allocator_speed,
    direct_width,
    qcfs_speed,
    recipe_ablation,
    timestep_curriculum,
)
from pipeline.report.verdicts import verdicts

BEGIN = "<!-- BEGIN GENERATED: {name} -->"
END = "<!-- END GENERATED -->"
BLOCK_RE = re.compile(
    r"(?P<begin><!-- BEGIN GENERATED: (?P<name>[\w.-]+) -->\n)(?P<body>.*?)(?P<end><!-- END GENERATED -->)",
    re.S,
)
CIFAR10 = "cifar10-cpu"  # the committed reports of the CIFAR-10 CPU profile, under reports/

# metrics.json keys -> column labels, in this order; other keys follow under their own names
METRIC_LABELS = {
    "acc": "full T acc. (%)",
    "s1_acc": "SEENN-I acc. (%)",
    "s1_T": "SEENN-I avg T",
    "s2_acc": "SEENN-II acc. (%)",
    "s2_T": "SEENN-II avg T",
    "aet": "AET",
}
RUN_NOTE = re.compile(
    r"^- Run (?P<run>\S+): (?P<model>[^(,]+?)(?: \(.*\))?, (?P<method>[^,]+), T = (?P<T>\d+), "
    r"on (?P<data>.+), (?P<n>[\d,]+) test inputs\.$"
)
SUFFIX = r"_(pm|low|high)$"
ALPHA_NOTE = re.compile(r"^- SEENN-I slots .*? use alpha = (?P<value>[\d.eE+-]+)")
BETA_NOTE = re.compile(r"^- SEENN-II slots use beta = (?P<value>[\d.eE+-]+)")


class DocsError(ValueError):
    """A marked block that cannot be built: an unknown name, or a report file that is missing."""


@dataclass(frozen=True)
class Stale:
    file: Path
    name: str

    def __str__(self) -> str:
        return f"{self.file}: {self.name}"


def _read(path: Path) -> str:
    if not path.is_file():
        raise DocsError(f"{path} is missing (run `dvc repro` or check out the committed reports)")
    return path.read_text()


def _cell(value) -> str:
    if value is None:
        return "—"
    if isinstance(value, float):
        return f"{value:,.0f}" if abs(value) >= 1e5 else f"{value:g}"
    return str(value)


def _table(header: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


def table_notes(folder: Path) -> list[str]:
    """The `- ...` note lines of every table markdown file in `folder/tables` (sorted by file name)."""
    notes: list[str] = []
    for path in sorted((folder / "tables").glob("*.md")):
        notes += [line.strip() for line in path.read_text().splitlines() if line.startswith("- ")]
    return notes


def run_descriptions(folder: Path) -> dict[str, dict[str, str]]:
    """Per run: model, method, T, dataset and test-set size, from the tables' `- Run <name>: ...` notes."""
    out: dict[str, dict[str, str]] = {}
    for line in table_notes(folder):
        match = RUN_NOTE.match(line)
        if match and match["run"] not in out:
            out[match["run"]] = match.groupdict()
    return out


def _first(pattern: re.Pattern, lines: Iterable[str]) -> str | None:
    return next((m["value"].rstrip(",.") for m in map(pattern.match, lines) if m), None)


def _metric_columns(metrics: dict[str, dict]) -> list[str]:
    """Base keys of the headline table: the known ones in order, then any other, in order of appearance.
    `<key>_pm` (± half the interval) and `<key>_low` / `<key>_high` join their key's cell."""
    keys: list[str] = []
    for values in metrics.values():
        keys += [k for k in values if k not in keys]
    merged = {k for k in keys if k.endswith(("_pm", "_low", "_high")) and re.sub(SUFFIX, "", k) in keys}
    base = [k for k in keys if k not in merged]
    return [k for k in METRIC_LABELS if k in base] + [k for k in base if k not in METRIC_LABELS]


def _metric_cell(values: dict, key: str) -> str:
    if key not in values:
        return "—"
    text = _cell(values[key])
    if f"{key}_pm" in values:
        text += f" ± {_cell(values[f'{key}_pm'])}"
    if f"{key}_low" in values and f"{key}_high" in values:
        text += f" [{_cell(values[f'{key}_low'])}, {_cell(values[f'{key}_high'])}]"
    return text


def headline(folder: Path, label: str = "reports") -> str:
    """The headline table of one reports folder: every run of its metrics.json, with the run's model,
    method, T and dataset where its tables name them, and a note on the alpha and beta they were read at."""
    metrics = json.loads(_read(folder / "metrics.json"))
    described = run_descriptions(folder)
    columns = _metric_columns(metrics)
    header = ["run", "model", "method", "T", "data"] if described else ["run"]
    header += [METRIC_LABELS.get(k, k) for k in columns]
    rows = []
    for run, values in metrics.items():
        d = described.get(run, {})
        row = [f"`{run}`"]
        if described:
            row += [d.get("model", "—"), d.get("method", "—"), d.get("T", "—"), d.get("data", "—")]
        rows.append(row + [_metric_cell(values, k) for k in columns])
    notes = table_notes(folder)
    alpha, beta = _first(ALPHA_NOTE, notes), _first(BETA_NOTE, notes)
    sizes = sorted({d["n"] for d in described.values()})
    note = [
        "Test accuracy in % with its 95 % Wilson interval [low, high]; avg T: average timesteps per input; "
        "AET: averaged earliest timestep (the ideal exit)."
    ]
    if alpha:
        note.append(f"SEENN-I at alpha = {alpha}" + (f", SEENN-II at beta = {beta}" if beta else "") + ".")
    if sizes:
        note.append(f"Test inputs per run: {', '.join(sizes)}.")
    note.append(f"From `{label}/metrics.json`.")
    return _table(header, rows) + "\n\n" + " ".join(note)


def embed(relative: str) -> Callable[[Path], str]:
    """A block holding one committed markdown report as it is."""

    def build(reports: Path) -> str:
        return _read(reports / relative).strip()

    build.__doc__ = f"reports/{relative}, as committed"
    return build


def _flat(value, prefix: str = "") -> list[tuple[str, str]]:
    if isinstance(value, dict):
        return [item for k, v in value.items() for item in _flat(v, f"{prefix}{k}.")]
    if isinstance(value, list):
        return (
            [(prefix.rstrip("."), ", ".join(map(_cell, value)))]
            if all(not isinstance(v, (dict, list)) for v in value)
            else [item for i, v in enumerate(value) for item in _flat(v, f"{prefix}{i}.")]
        )
    return [(prefix.rstrip("."), _cell(value))]


def benchmarks(reports: Path) -> str:
    """Every committed benchmark result, `reports/benchmarks/*.json`, with its machine and command; its
    other keys are the numbers. A file that does not name both its machine and its command is not quoted."""
    parts, unquoted = [], []
    for path in sorted((reports / "benchmarks").glob("*.json")):
        doc = json.loads(path.read_text())
        if not isinstance(doc, dict) or not {"machine", "command"} <= set(doc):
            unquoted.append(f"`{path.name}`")
            continue
        machine = doc["machine"]
        if isinstance(machine, dict):
            machine = ", ".join(f"{k} {v}" for k, v in _flat(machine))
        results = {k: v for k, v in doc.items() if k not in ("machine", "command")}
        rows = [[f"`{k}`", v.replace("|", "\\|")] for k, v in _flat(results)]
        parts.append(
            f"**`reports/benchmarks/{path.name}`**: `{doc['command']}` on {machine}\n\n"
            + _table(["result", "value"], rows)
        )
    if not parts:
        parts.append("No benchmark result is committed yet (`reports/benchmarks/*.json`).")
    if unquoted:
        parts.append(f"Not quoted (no machine or command recorded): {', '.join(unquoted)}.")
    return "\n\n".join(parts)


def profile_timing(path: Path) -> str:
    """A profile's measured cold `dvc repro`, from its committed `timing.json` (command, machine, seconds,
    and the seconds of each stage, from the finish times of the stages' outputs)."""
    if not path.is_file():
        return f"`{path.name}` is not committed yet."
    doc = json.loads(path.read_text())
    m = doc["machine"]
    rows = [[f"`{stage}`", f"{seconds / 60:.1f}"] for stage, seconds in doc["stages"].items()]
    return (
        f"Cold `dvc repro`: **{doc['cold_dvc_repro_s'] / 60:.1f} minutes**, "
        + ("within" if doc["cold_dvc_repro_s"] <= doc["budget_s"] else "over")
        + f" its {doc['budget_s'] / 60:.0f}-minute budget, "
        f"on {m['cpu']}, {m['cores']} cores, Python {m['python']}, torch {m['versions'].get('torch')}, "
        f"dvc {m['versions'].get('dvc')}; command: `{doc['command']}`.\n\n"
        + _table(["stage", "minutes"], rows)
    )


def claim_block(path: Path) -> str:
    """The paper's claim at <= T/2 average timesteps, per run and policy, from a committed `claim.csv`."""
    if not path.is_file():
        return f"`{path.name}` is not generated yet: run `dvc repro`."
    import pandas as pd

    from pipeline.report.claim import claim_sentences

    tidy = pd.read_csv(path)
    tidy["below_full"] = tidy["below_full"].map(
        lambda v: v if isinstance(v, bool) else {"True": True, "False": False}.get(str(v), math.nan)
    )
    return claim_sentences(tidy)


BLOCKS: dict[str, Callable[[Path], str]] = {
    "recipe-ablation": recipe_ablation,
    "qcfs-speed": qcfs_speed,
    "allocator-speed": allocator_speed,
    "timestep-curriculum": timestep_curriculum,
    "direct-width": direct_width,
    "direct-epochs": lambda reports: direct_width(reports, "direct_epochs"),
    "results-embedded": headline,
    "results-cifar10": lambda reports: headline(reports / CIFAR10, f"reports/{CIFAR10}"),
    **{f"table{i}-embedded": embed(f"tables/table{i}.md") for i in range(1, 6)},
    "exit-policies-embedded": embed("tables/exit_policies.md"),
    "verdicts-embedded": lambda reports: verdicts(reports / "tables/exit_policies.csv"),
    "hardware-embedded": embed("hardware/hardware.md"),
    **{f"table{i}-cifar10": embed(f"{CIFAR10}/tables/table{i}.md") for i in (1, 2, 5)},
    "exit-policies-cifar10": embed(f"{CIFAR10}/tables/exit_policies.md"),
    "verdicts-cifar10": lambda reports: verdicts(reports / CIFAR10 / "tables/exit_policies.csv"),
    "claim-embedded": lambda reports: claim_block(reports / "tables/claim.csv"),
    "claim-cifar10": lambda reports: claim_block(reports / CIFAR10 / "tables/claim.csv"),
    "timing-cifar10": lambda reports: profile_timing(reports / CIFAR10 / "timing.json"),
    "hardware-cifar10": embed(f"{CIFAR10}/hardware/hardware.md"),
    "benchmarks": benchmarks,
}


Blocks = Mapping[str, Callable[[Path], str]]


def render(name: str, reports: Path, blocks: Blocks = BLOCKS) -> str:
    """The text between a block's markers: the generated markdown, framed by blank lines."""
    if name not in blocks:
        raise DocsError(f"unknown generated block {name!r} (known: {', '.join(blocks)})")
    return "\n" + blocks[name](reports).strip() + "\n\n"


def fill(text: str, reports: Path, blocks: Blocks = BLOCKS) -> str:
    """`text` with every generated block rebuilt from `reports`."""
    return BLOCK_RE.sub(lambda m: m["begin"] + render(m["name"], reports, blocks) + m["end"], text)


def block_names(text: str) -> list[str]:
    return [m["name"] for m in BLOCK_RE.finditer(text)]


def doc_files(root: Path) -> list[Path]:
    """README.md and every markdown page under docs/."""
    return [p for p in [root / "README.md", *sorted((root / "docs").rglob("*.md"))] if p.is_file()]


def stale_blocks(files: Iterable[Path], reports: Path, blocks: Blocks = BLOCKS) -> list[Stale]:
    """The blocks whose text is not what `reports` gives now."""
    stale = []
    for path in files:
        text = path.read_text()
        for m in BLOCK_RE.finditer(text):
            if m["body"] != render(m["name"], reports, blocks):
                stale.append(Stale(path, m["name"]))
    return stale


def rewrite(files: Iterable[Path], reports: Path, blocks: Blocks = BLOCKS) -> list[Path]:
    """Rebuild every block in `files` from `reports`; returns the files that changed."""
    changed = []
    for path in files:
        text = path.read_text()
        new = fill(text, reports, blocks)
        if new != text:
            path.write_text(new)
            changed.append(path)
    return changed
