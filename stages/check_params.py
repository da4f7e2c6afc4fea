"""Stage `check_params`: validate the whole of params.yaml before any other stage runs, and write the
resolved params (every default filled in) that the other stages declare their DVC params from.

A bad value stops `dvc repro` here, before DVC clears any other stage's outputs; a good change rewrites
only the keys it changed in build/params.yaml, so DVC re-runs exactly the stages that declare them.
"""

from pathlib import Path

import typer
import yaml

from pipeline.core.config import resolved
from pipeline.core.atomic import write_text_atomic
from pipeline.core.execution import cuda_visible, resolved_execution
from stages.common import PARAMS_FILE, load_params, one_line_errors


def check_params(
    params: Path = typer.Option(PARAMS_FILE, help="params file to check"),
    out: Path | None = typer.Option(None, help="where to write the resolved params (for DVC)"),
) -> None:
    """Validate params.yaml: types, ranges, choices, cross-field rules, unknown keys."""
    p = load_params(params)
    if out is not None:
        header = (
            f"# Written by `seenn check-params` from {params}: every key, defaults included. Do not edit.\n"
        )
        # what `auto` becomes here (device, speed switches): training stages declare it, so a GPU result is
        # never served from the cache for a CPU run or the other way round
        with one_line_errors():
            execution = resolved_execution(p, cuda_visible(p.device))
        document = {"resolved": {**resolved(p), "execution": execution}}
        write_text_atomic(out, header + yaml.safe_dump(document, sort_keys=False))
    typer.echo(
        f"check_params: {params} is valid ({len(p.conversion)} conversion and {len(p.direct)} direct runs)"
    )
