"""`seenn use-profile NAME`: make `profiles/NAME.yaml` the params of the pipeline (validated first).

Profiles are whole params files: the same stages run whatever datasets and runs a profile names, so the
paper's grid is a params change, not another pipeline. Return with `git checkout params.yaml`.
"""

from pathlib import Path

import typer
import yaml

from pipeline.core.atomic import write_text_atomic
from pipeline.core.config import ParamsError, parse_params
from stages.common import PARAMS_FILE, fail

PROFILES = Path("profiles")


def use_profile(
    name: str = typer.Argument(..., help="profile name: a file profiles/<name>.yaml"),
    params: Path = typer.Option(PARAMS_FILE, help="params file to replace"),
) -> None:
    """Validate profiles/NAME.yaml and copy it over params.yaml (then run `dvc repro`)."""
    source = PROFILES / f"{name}.yaml"
    if not source.is_file():
        known = ", ".join(sorted(p.stem for p in PROFILES.glob("*.yaml"))) or "none"
        fail(f"profile {name!r} not found ({source}); known: {known}")
    text = source.read_text()
    try:
        p = parse_params(yaml.safe_load(text))
    except ParamsError as err:
        fail(f"{source}: {err}")
    write_text_atomic(params, text)
    typer.echo(
        f"use-profile: {params} is now {source} ({len(p.conversion)} conversion, {len(p.direct)} direct, "
        f"{len(p.seenn2.runs)} SEENN-II runs); run `dvc repro`"
    )
