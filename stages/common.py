"""What every stage shares: loading and validating params.yaml, and one-line failures."""

import dataclasses
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import NoReturn

import typer
import yaml

from pipeline.core.config import Params, ParamsError, parse_params
from pipeline.core.errors import StageError

PARAMS_FILE = Path("params.yaml")
PARAMS_OPTION = typer.Option(PARAMS_FILE, help="params file")
DATA_HELP = (
    "prepared dataset folder, or the folder holding them (data/), where the run's own dataset is used "
    "(the seed replicas' stages: a DVC matrix cannot name a run's dataset)"
)
SEED_OPTION = typer.Option(
    None, help="training seed instead of params' `seed` (a replica of `extra_seeds`; the data split stays)"
)


def fail(message: str) -> NoReturn:
    """Stop the stage with one line on stderr and exit status 2."""
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(code=2)


@contextmanager
def one_line_errors() -> Iterator[None]:
    """Turn the library's user-facing errors (a missing or corrupt file, a bad value, a stage that cannot
    go on) into one line and exit status 2; anything else is a bug and keeps its traceback."""
    try:
        yield
    except (StageError, FileNotFoundError, ValueError) as err:
        fail(str(err))


def load_params(path: Path = PARAMS_FILE) -> Params:
    """Read and validate the whole params file, or fail with one line naming the bad key."""
    if not path.is_file():
        fail(f"{path} not found: run from the project root or pass --params")
    try:
        raw = yaml.safe_load(path.read_text())
    except yaml.YAMLError as err:
        fail(f"{path} is not valid YAML: {str(err).splitlines()[0]}")
    try:
        return parse_params(raw)
    except ParamsError as err:
        fail(str(err))


def dataset_folder(data: Path, dataset: str) -> Path:
    """`data/<dataset>` when `data` is the folder of prepared datasets (`data/<dataset>/info.json` exists and
    `data/info.json` does not), else `data` itself (whose loading then names what is missing there)."""
    nested = data / dataset
    return nested if not (data / "info.json").is_file() and (nested / "info.json").is_file() else data


def with_seed(p: Params, seed: int | None) -> Params:
    """`p` with the training seed `seed` (unchanged when None)."""
    if seed is None:
        return p
    if seed < 0:
        fail(f"--seed {seed} is not allowed: a seed >= 0")
    return dataclasses.replace(p, seed=seed)


def require_run(runs: dict, run: str, section: str, path: Path) -> None:
    """Fail unless `run` is a key of the params section `section`."""
    if run not in runs:
        fail(f"run {run!r} is not in `{section}` of {path}; known: {', '.join(runs) or 'none'}")
