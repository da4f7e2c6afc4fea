"""Stage `check_params`: validate the whole of params.yaml before any other stage runs.

Every later stage depends on its output, whose content never changes, so a bad value stops `dvc repro`
here, before DVC clears any other stage's outputs, while a good change re-runs only what it affects.
"""

from pathlib import Path

import typer

from stages.common import PARAMS_FILE, load_params, write_text_atomic

VALID_MARK = "params.yaml passed validation\n"


def check_params(
    params: Path = typer.Option(PARAMS_FILE, help="params file to check"),
    out: Path | None = typer.Option(None, help="file to write when the params are valid (for DVC)"),
) -> None:
    """Validate params.yaml: types, ranges, choices, cross-field rules, unknown keys."""
    p = load_params(params)
    if out is not None:
        write_text_atomic(out, VALID_MARK)
    typer.echo(
        f"check_params: {params} is valid ({len(p.conversion)} conversion and {len(p.direct)} direct runs)"
    )
