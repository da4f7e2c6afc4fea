"""What every stage shares: loading and validating params.yaml, one-line failures, provenance of a run."""

import json
import platform
import subprocess
import sys
from importlib import metadata
from pathlib import Path
from typing import Any, NoReturn

import typer
import yaml

from pipeline.core.atomic import write_atomic, write_json_atomic, write_text_atomic  # noqa: F401 (re-exported)
from pipeline.core.config import Params, ParamsError, parse_params

PARAMS_FILE = Path("params.yaml")


def fail(message: str) -> NoReturn:
    """Stop the stage with one line on stderr and exit status 2 (nothing has been written)."""
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(code=2)


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


def provenance(params_section: Any, seed: int, device: str) -> dict:
    """Resolved params of a run plus seed, device, git commit and package versions."""
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "HEAD"], capture_output=True, text=True, timeout=10, check=False
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        commit = ""
    versions = {}
    for pkg in ("torch", "torchvision", "numpy", "dvc", "scikit-learn", "pandas"):
        try:
            versions[pkg] = metadata.version(pkg)
        except metadata.PackageNotFoundError:
            versions[pkg] = None
    return {
        "params": params_section,
        "seed": seed,
        "device": device,
        "git_commit": commit or None,
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "versions": versions,
    }
