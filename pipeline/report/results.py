"""Load one run folder `runs/<run>/` (the contract between the evaluation stages and the reports).

A run folder holds `run.json` (provenance), `timestep_logits.npz` (`logits [T, N, C]`, `labels [N]`),
`sweep.csv` (policy, param, accuracy, avg_timesteps), `aet.json` and `exit_shares.csv`, and, when the run
has a validation split, `val_sweep.csv` (the same points on it, where the comparison chooses them).
Loading checks the contract and fails with one line naming the file and what is wrong, so a broken stage
output is caught before a table silently shows a wrong number.
"""

import dataclasses
import json
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from pipeline.core.config import Params
from pipeline.core.layout import replica_dirs, report_inputs
from pipeline.exits.points import Decisions, load_decisions

RUN_KEYS = (
    "run",
    "dataset",
    "dataset_label",
    "simulated",
    "model",
    "paper_model",
    "method",
    "T",
    "num_classes",
)
METHODS = ("direct", "conversion")
SWEEP_COLUMNS = ("policy", "param", "accuracy", "avg_timesteps")
EXIT_SHARE_COLUMNS = ("policy", "param", "t", "share")
AET_KEYS = ("aet", "empirical_aet", "T")
# Datasets made of simulated data whatever run.json says: their labels must always say so.
SIMULATED_DATASETS = ("digits_dvs",)


@dataclass(frozen=True, eq=False)
class RunResult:
    """Everything the reports need from one trained or converted SNN."""

    run: str  # folder / run name, e.g. "r19"
    dataset: str  # dataset key, e.g. "digits", "cifar10", "digits_dvs"
    dataset_label: str  # human label from run.json, e.g. "digits (sklearn 8x8)"
    simulated: bool  # True when the data are simulated (e.g. events made from static digits)
    model: str  # registry name, e.g. "resnet19"
    paper_model: str  # the paper's display name, e.g. "ResNet-19"
    method: str  # "direct" (TET training) or "conversion" (QCFS ANN-SNN conversion)
    T: int  # number of timesteps the SNN was evaluated with
    num_classes: int  # C
    model_note: str  # deviation from the paper's model, e.g. "width x0.25"; "" when none
    n_test: int  # N, number of test inputs in timestep_logits.npz
    accuracy_per_t: np.ndarray  # [T] accuracy (fraction) of the accumulated output after t = 1..T steps
    sweep: pd.DataFrame  # sweep.csv: policy, param, accuracy (fraction), avg_timesteps
    exit_shares: pd.DataFrame  # exit_shares.csv: policy, param, t, share
    aet: float  # averaged earliest timestep, paper eq. 4
    empirical_aet: float  # empirical AET, paper eq. 13
    aet_ci: tuple[float, float] | None = None  # 95 % bootstrap interval of the AET (aet.json)
    empirical_aet_ci: tuple[float, float] | None = None  # ... of the empirical AET
    decisions: Decisions | None = None  # per-input decisions of every point (decisions.npz), for paired tests
    replicas: tuple["RunResult", ...] = ()  # the same run trained with each extra seed (params extra_seeds)
    val_sweep: pd.DataFrame | None = None  # val_sweep.csv: the points on the validation split (None: none)

    @property
    def n_val(self) -> int:
        """Validation inputs behind `val_sweep` (0 without a validation split)."""
        return 0 if self.val_sweep is None or self.val_sweep.empty else int(self.val_sweep["n"].iloc[0])

    def val_policy_rows(self, policy: str) -> pd.DataFrame:
        """`policy_rows` of the validation sweep (empty without one)."""
        if self.val_sweep is None:
            return pd.DataFrame(columns=SWEEP_COLUMNS)
        rows = self.val_sweep[self.val_sweep["policy"] == policy].sort_values("param", kind="stable")
        return rows.drop_duplicates("param").reset_index(drop=True)

    @property
    def label(self) -> str:
        """Dataset label for tables and figures; simulated data always say so."""
        simulated = self.simulated or self.dataset in SIMULATED_DATASETS
        if simulated and "simulated" not in self.dataset_label.lower():
            return f"{self.dataset_label} (simulated)"
        return self.dataset_label

    def policy_rows(self, policy: str) -> pd.DataFrame:
        """Sweep rows of one policy, sorted by param, with the first of any duplicated param kept."""
        rows = self.sweep[self.sweep["policy"] == policy].sort_values("param", kind="stable")
        return rows.drop_duplicates("param").reset_index(drop=True)


def _require_file(path: Path) -> Path:
    if not path.is_file():
        raise FileNotFoundError(f"{path}: missing (run folder {path.parent} is incomplete)")
    return path


def _read_json(path: Path, keys: Sequence[str]) -> dict:
    try:
        data = json.loads(_require_file(path).read_text())
    except json.JSONDecodeError as err:
        raise ValueError(f"{path}: not valid JSON ({err})") from err
    missing = [key for key in keys if key not in data]
    if missing:
        raise ValueError(f"{path}: missing key(s) {', '.join(missing)}")
    return data


def _read_csv(path: Path, columns: Sequence[str]) -> pd.DataFrame:
    try:
        frame = pd.read_csv(_require_file(path))
    except (pd.errors.ParserError, pd.errors.EmptyDataError) as err:
        raise ValueError(f"{path}: not a readable CSV ({err})") from err
    missing = [col for col in columns if col not in frame.columns]
    if missing:
        raise ValueError(f"{path}: missing column(s) {', '.join(missing)}")
    return frame


def _npz_shapes(path: Path) -> dict[str, tuple[int, ...]]:
    """Array shapes in an .npz from the .npy headers alone, so a large logits file is not loaded."""
    shapes = {}
    try:
        with zipfile.ZipFile(_require_file(path)) as archive:
            for name in archive.namelist():
                with archive.open(name) as member:
                    version = np.lib.format.read_magic(member)
                    if version == (1, 0):
                        shape, _, _ = np.lib.format.read_array_header_1_0(member)
                    else:
                        shape, _, _ = np.lib.format.read_array_header_2_0(member)
                shapes[name.removesuffix(".npy")] = shape
    except (zipfile.BadZipFile, EOFError, ValueError) as err:
        raise ValueError(f"{path}: not a readable .npz ({err}); re-run the stage that wrote it") from err
    return shapes


def _check_logits(path: Path, T: int, num_classes: int) -> int:
    """Check `logits [T, N, C]` and `labels [N]` against run.json; return N."""
    shapes = _npz_shapes(path)
    missing = [key for key in ("logits", "labels") if key not in shapes]
    if missing:
        raise ValueError(f"{path}: missing array(s) {', '.join(missing)}")
    logits, labels = shapes["logits"], shapes["labels"]
    if len(logits) != 3 or logits[0] != T or logits[2] != num_classes or labels != (logits[1],):
        raise ValueError(
            f"{path}: logits {logits} / labels {labels} do not match [T={T}, N, C={num_classes}] / [N]"
        )
    return int(logits[1])


def _accuracy_per_t(path: Path, sweep: pd.DataFrame, T: int) -> np.ndarray:
    """`[T]` accuracy from the sweep's fixed rows; every T in 1..T must be there."""
    fixed = sweep[sweep["policy"] == "fixed"].drop_duplicates("param").set_index("param")["accuracy"]
    missing = [t for t in range(1, T + 1) if t not in fixed.index]
    if missing:
        raise ValueError(f"{path}: missing policy=fixed row(s) for T = {', '.join(map(str, missing))}")
    accuracy = fixed.loc[list(range(1, T + 1))].to_numpy(dtype=np.float64)
    if np.any((accuracy < 0) | (accuracy > 1)):
        raise ValueError(f"{path}: accuracy must be a fraction in [0, 1]")
    return accuracy


def load_run(run_dir: Path) -> RunResult:
    """Read and check one run folder.

    Args:
        run_dir: the folder `runs/<run>/`.

    Returns:
        The run's provenance, sweep, exit shares and AET values.

    Raises:
        FileNotFoundError: a contract file is absent (the message names it).
        ValueError: a file lacks a key, column or row, or disagrees with run.json.
    """
    run_dir = Path(run_dir)
    info = _read_json(run_dir / "run.json", RUN_KEYS)
    if info["method"] not in METHODS:
        raise ValueError(f"{run_dir / 'run.json'}: method must be one of {METHODS}, got {info['method']!r}")
    T, num_classes = int(info["T"]), int(info["num_classes"])
    n_test = _check_logits(run_dir / "timestep_logits.npz", T, num_classes)
    sweep_path = run_dir / "sweep.csv"
    sweep = _read_csv(sweep_path, SWEEP_COLUMNS)
    exit_shares = _read_csv(run_dir / "exit_shares.csv", EXIT_SHARE_COLUMNS)
    aet_path = run_dir / "aet.json"
    aet = _read_json(aet_path, AET_KEYS)
    if int(aet["T"]) != T:
        raise ValueError(f"{aet_path}: T = {aet['T']} but run.json says T = {T}")
    decisions = load_decisions(run_dir / "decisions.npz") if (run_dir / "decisions.npz").is_file() else None
    val_sweep = _val_sweep(run_dir / "val_sweep.csv")
    if decisions is not None and decisions.exit_step.shape[1] != n_test:
        raise ValueError(f"{run_dir / 'decisions.npz'}: {decisions.exit_step.shape[1]} inputs, not {n_test}")
    return RunResult(
        run=str(info["run"]),
        dataset=str(info["dataset"]),
        dataset_label=str(info["dataset_label"]),
        simulated=bool(info["simulated"]),
        model=str(info["model"]),
        paper_model=str(info["paper_model"]),
        method=str(info["method"]),
        T=T,
        num_classes=num_classes,
        model_note=str(info.get("model_note") or ""),
        n_test=n_test,
        accuracy_per_t=_accuracy_per_t(sweep_path, sweep, T),
        sweep=sweep,
        exit_shares=exit_shares,
        aet=float(aet["aet"]),
        empirical_aet=float(aet["empirical_aet"]),
        aet_ci=_interval(aet, "aet"),
        empirical_aet_ci=_interval(aet, "empirical_aet"),
        decisions=decisions,
        val_sweep=val_sweep,
    )


def _val_sweep(path: Path) -> pd.DataFrame | None:
    """The validation sweep of a run folder, or None when it has none (no file, or no lines)."""
    if not path.is_file():
        return None
    frame = _read_csv(path, (*SWEEP_COLUMNS, "n"))
    return None if frame.empty else frame


def _interval(values: dict, key: str) -> tuple[float, float] | None:
    if f"{key}_low" not in values or f"{key}_high" not in values:
        return None
    return float(values[f"{key}_low"]), float(values[f"{key}_high"])


def load_runs(run_dirs: Sequence[Path]) -> list[RunResult]:
    """`load_run` over several folders, in the order given."""
    return [load_run(Path(run_dir)) for run_dir in run_dirs]


def attach_seenn2(runs: Sequence[RunResult], seenn2_dirs: Sequence[Path]) -> list[RunResult]:
    """Add the SEENN-II operating points of finetune folders (`seenn2.csv` + `seenn2.json` naming the
    `base_run`) to the sweep of the run they were finetuned from."""
    extra: dict[str, list[pd.DataFrame]] = {}
    extra_val: dict[str, list[pd.DataFrame]] = {}
    decisions: dict[str, list[Decisions]] = {}
    known = {r.run for r in runs}
    for folder in map(Path, seenn2_dirs):
        meta = _read_json(folder / "seenn2.json", ("base_run", "beta"))
        if meta["base_run"] not in known:
            raise ValueError(
                f"{folder / 'seenn2.json'}: base_run {meta['base_run']!r} is not among the runs given"
            )
        rows = _read_csv(folder / "seenn2.csv", SWEEP_COLUMNS)
        # the policy network runs before the SNN: its cost in SNN-timestep equivalents (seenn2.json)
        rows["policy_cost"] = float(meta.get("policy_cost_in_snn_timesteps", 0.0))
        extra.setdefault(meta["base_run"], []).append(rows)
        val_rows = _val_sweep(folder / "seenn2_val.csv")
        if val_rows is not None:
            val_rows["policy_cost"] = rows["policy_cost"].iloc[0]
            extra_val.setdefault(meta["base_run"], []).append(val_rows)
        if (folder / "decisions.npz").is_file():
            decisions.setdefault(meta["base_run"], []).append(load_decisions(folder / "decisions.npz"))
    out = []
    for r in runs:
        if r.run in extra:
            parts = [r.decisions, *decisions.get(r.run, [])] if r.decisions is not None else []
            merged = Decisions.concat(parts) if len(parts) > 1 else r.decisions
            sweep = pd.concat([r.sweep, *extra[r.run]], ignore_index=True)
            val = r.val_sweep
            if val is not None and r.run in extra_val:
                val = pd.concat([val, *extra_val[r.run]], ignore_index=True)
            r = dataclasses.replace(r, sweep=sweep, decisions=merged, val_sweep=val)
        out.append(r)
    return out


def load_reported_runs(p: Params, runs: Path, seeds: bool = False) -> list[RunResult]:
    """The runs the params name, read from their folders under `runs`, with every SEENN-II folder's
    operating points attached to its base run, and with `seeds` its seed replicas (params `extra_seeds`)
    attached to it."""
    run_dirs, seenn2_dirs = report_inputs(p, runs)
    replicas = replica_dirs(p, runs) if seeds else {}
    return [
        dataclasses.replace(r, replicas=tuple(load_runs(replicas.get(r.run, []))))
        for r in attach_seenn2(load_runs(run_dirs), seenn2_dirs)
    ]
