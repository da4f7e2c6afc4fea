"""Stage `convert`: QCFS ANN -> IF SNN, then its per-step test outputs over T steps."""

from pathlib import Path

import typer

from pipeline.training.workflows import convert_run
from stages.common import PARAMS_OPTION, load_params, one_line_errors, require_run


def convert(
    run: str = typer.Argument(..., help="run name, a key of `conversion` in params.yaml"),
    ann: Path = typer.Option(..., help="folder of the trained QCFS ANN"),
    data: Path = typer.Option(..., help="prepared dataset folder"),
    out: Path = typer.Option(..., help="run folder to write"),
    params: Path = PARAMS_OPTION,
) -> None:
    """Convert the QCFS ANN into an IF SNN (threshold = lambda, reset by subtraction, u0 = V/2)."""
    p = load_params(params)
    require_run(p.conversion, run, "conversion", params)
    with one_line_errors():
        accuracy = convert_run(p, run, ann, data, out)
    by_t = " ".join(f"{t + 1}:{a:.1%}" for t, a in enumerate(accuracy))
    typer.echo(f"convert: {run}: IF SNN accuracy by T {by_t} -> {out}")
