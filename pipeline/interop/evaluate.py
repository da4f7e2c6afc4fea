"""`seenn evaluate`: every exit policy on outputs recorded from any SNN, with no DVC and no training.

The user's arrays become a run folder, the contract every evaluation stage reads (`runs/<run>/`:
`run.json`, `timestep_logits.npz` [T, N, C], and optionally `val_logits.npz` and `train_logits.npz`);
then the same library calls as the sweep, tables and figures stages run on it. Everything is checked and
computed in a temporary folder first; only then is the output folder written, file by file atomically:

    <out>/run/             the run folder: run.json, the outputs, sweep.csv, val_sweep.csv, exit_shares.csv,
                           aet.json, decisions.npz (as the sweep stage writes them)
    <out>/curves/<policy>.csv   accuracy against average timesteps of each policy (param, avg_timesteps,
                           accuracy_pct)
    <out>/exit_policies.md, .csv   the matched-accuracy comparison
    <out>/exit_policies.png, .pdf  the comparison figure
"""

import re
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from pipeline.core.atomic import write_atomic, write_json_atomic
from pipeline.core.config import Params, TablesParams, parse_params
from pipeline.exits.sweep import sweep_run, write_run_sweep
from pipeline.interop.outputs import Outputs, OutputsError, check_companion, load_outputs
from pipeline.report.exit_policies import comparison
from pipeline.report.exit_policies_figure import exit_policies_figure, policy_curves
from pipeline.report.exit_policies_markdown import to_markdown
from pipeline.report.files import ReportFile, remove_stale, write_report_files
from pipeline.report.results import METHODS, load_run

RUN_FOLDER = "run"
NAME_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
DATASET_LABEL = "user data"


@dataclass(frozen=True)
class Evaluation:
    """What `evaluate` wrote, for the command's summary line."""

    out: Path
    T: int
    n_test: int
    full_accuracy: float  # fraction, fixed T = T on the test set
    seenn1_accuracy: float  # fraction, SEENN-I at the headline alpha
    seenn1_timesteps: float  # its average timesteps
    aet: float
    files: tuple[Path, ...]


def settings(alpha: float | None = None, sweep: dict | None = None) -> Params:
    """params.yaml's defaults with the given overrides (`alpha`, `sweep.<key>`), checked by the params
    schema: a bad value fails with one line naming the key and what is allowed."""
    raw: dict = {"sweep": dict(sweep or {})}
    if "alphas" in raw["sweep"]:  # the tables' SEENN-I slots must be sweep points: keep those still swept
        kept = [a for a in TablesParams().alphas if a in raw["sweep"]["alphas"]]
        raw["tables"] = {"alphas": kept or raw["sweep"]["alphas"][:1]}  # (unused here, must be valid)
    if alpha is not None:
        raw["alpha"] = alpha
    return parse_params(raw)


def run_record(name: str, method: str, test: Outputs) -> dict:
    """`run.json` of a user's network (the keys `pipeline.report.results.RUN_KEYS` needs)."""
    return {
        "run": name,
        "dataset": "user",
        "dataset_label": DATASET_LABEL,
        "simulated": False,
        "model": "user",
        "paper_model": name,
        "method": method,
        "T": test.T,
        "num_classes": test.C,
        "model_note": "",
    }


def check_request(name: str, method: str) -> None:
    if not NAME_PATTERN.fullmatch(name):
        raise OutputsError(
            f"--name {name!r} is not allowed: 1-64 letters, digits, '.', '_' or '-', starting with a letter "
            "or digit"
        )
    if method not in METHODS:
        raise OutputsError(f"--method {method!r} is not allowed: one of {', '.join(METHODS)}")


def load_sets(test: Path, val: Path | None, train: Path | None) -> dict[str, Outputs]:
    """The checked outputs by run-folder file name; the validation and training sets must match the test
    set's T and C."""
    sets = {"timestep_logits.npz": load_outputs(test)}
    companions = (("val_logits.npz", val, "validation set"), ("train_logits.npz", train, "training set"))
    for file, path, role in companions:
        if path is not None:
            sets[file] = load_outputs(path)
            check_companion(sets["timestep_logits.npz"], sets[file], role)
    return sets


def _save(path: Path, outputs: Outputs) -> None:
    write_atomic(path, lambda tmp: np.savez(tmp, logits=outputs.logits, labels=outputs.labels))


def evaluate(
    out: Path,
    test: Path,
    val: Path | None = None,
    train: Path | None = None,
    name: str = "user-snn",
    method: str = "direct",
    params: Params | None = None,
) -> Evaluation:
    """Every exit policy on recorded outputs (see the module docstring for what lands in `out`).

    Args:
        out: output folder (created; files of an earlier evaluation there are replaced).
        test: test-set outputs `.npz` (`logits [T, N, C]`, `labels [N]`).
        val: validation-set outputs, same T and C; where the comparison chooses its operating points.
        train: training-set outputs, same T and C; SNNCutoff's calibrated Top-K is fitted on them.
        name: the network's name in the table and figure.
        method: "direct" (softmax temperature `sweep.direct_temperature`) or "conversion" (ANN-SNN
            converted: `sweep.conversion_temperature`).
        params: sweep settings and the headline alpha; params.yaml's defaults when None.

    Raises:
        OutputsError (a ValueError): a bad file, array or option; raised before anything is written.
    """
    check_request(name, method)
    sets = load_sets(test, val, train)
    p = params or settings()
    out = Path(out)
    with tempfile.TemporaryDirectory(prefix="seenn-evaluate-") as tmp:
        run_dir = Path(tmp) / name
        for file, outputs in sets.items():
            _save(run_dir / file, outputs)
        write_json_atomic(run_dir / "run.json", run_record(name, method, sets["timestep_logits.npz"]))
        result = sweep_run(run_dir, p.sweep, p.alpha)
        write_run_sweep(run_dir, result)
        run = load_run(run_dir)
        tidy = comparison([run])
        files: dict[Path, ReportFile] = {
            out / "exit_policies.csv": tidy,
            out / "exit_policies.md": to_markdown(tidy),
        }
        figure = exit_policies_figure([run])
        files |= {out / "exit_policies.png": figure, out / "exit_policies.pdf": figure}
        curves = {out / "curves" / f"{policy}.csv": c for policy, c in policy_curves(run).items()}
        run_files = {out / RUN_FOLDER / f.name: f.read_bytes() for f in sorted(run_dir.iterdir())}
    write_report_files(files | curves)
    for path, content in run_files.items():
        write_atomic(path, lambda tmp, b=content: tmp.write_bytes(b))
    remove_stale(out / "curves", set(curves))  # a policy an earlier evaluation had (calibrated Top-K)
    remove_stale(out / RUN_FOLDER, set(run_files))  # e.g. the train_logits.npz of an earlier call
    table = result.table
    seenn1 = table[(table.policy == "seenn1") & (table.param == p.alpha)].iloc[0]
    return Evaluation(
        out=out,
        T=run.T,
        n_test=run.n_test,
        full_accuracy=float(run.accuracy_per_t[-1]),
        seenn1_accuracy=float(seenn1.accuracy),
        seenn1_timesteps=float(seenn1.avg_timesteps),
        aet=run.aet,
        files=tuple(sorted([*files, *curves, *run_files])),
    )
