"""Where each run's folder lives under the runs directory: the one naming convention that dvc.yaml's
templated `outs` follow too (tests/stages/test_dvc_yaml.py checks that they agree)."""

from pathlib import Path

from pipeline.core.config import Params


def run_dir(runs: Path, name: str) -> Path:
    """A trained or converted SNN: `runs/<name>/`."""
    return runs / name


def replica_dir(runs: Path, name: str, seed: int) -> Path:
    """Run `name` trained again with the extra seed `seed` (params `extra_seeds`): `runs/<name>-seed<seed>/`
    (a conversion replica's ANN: `runs/<name>-seed<seed>-ann/`)."""
    return runs / f"{name}-seed{seed}"


def ann_dir(runs: Path, name: str) -> Path:
    """The QCFS ANN a conversion run was converted from: `runs/<name>-ann/`. Its `model.pt` holds the
    learned lambdas that are the IF thresholds; the converted run's `model.pt` holds the weights only."""
    return runs / f"{name}-ann"


def seenn2_dir(runs: Path, name: str, beta: float | None = None) -> Path:
    """A SEENN-II finetune of run `name`: `runs/<name>-seenn2/` at the headline beta, else
    `runs/<name>-seenn2-b<beta>/` for a grid beta."""
    return runs / (f"{name}-seenn2" if beta is None else f"{name}-seenn2-b{beta}")


def report_inputs(p: Params, runs: Path) -> tuple[list[Path], list[Path]]:
    """The run folders and SEENN-II folders the reports read, in params order."""
    run_dirs = [run_dir(runs, name) for name in [*p.conversion, *p.direct]]
    seenn2_dirs = [
        folder
        for name in p.seenn2.runs
        for folder in (seenn2_dir(runs, name), *(seenn2_dir(runs, name, b) for b in p.seenn2.betas))
    ]
    return run_dirs, seenn2_dirs


def replica_dirs(p: Params, runs: Path) -> dict[str, list[Path]]:
    """Run name -> its replicas' folders, one per extra seed (empty lists with one seed)."""
    return {name: [replica_dir(runs, name, k) for k in p.extra_seeds] for name in [*p.conversion, *p.direct]}
