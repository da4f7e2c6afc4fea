"""Stage `convert`: QCFS ANN -> IF SNN, then its per-step test outputs over T steps."""

from pathlib import Path

import typer

from pipeline.training.workflows import convert_run
from stages.common import (
    DATA_HELP,
    PARAMS_OPTION,
    SEED_OPTION,
    dataset_folder,
    load_params,
    one_line_errors,
    require_run,
    with_seed,
)


def convert(
    run: str = typer.Argument(..., help="run name, a key of `conversion` in params.yaml"),
    ann: Path = typer.Option(..., help="folder of the trained QCFS ANN"),
    data: Path = typer.Option(..., help=DATA_HELP),
    out: Path = typer.Option(..., help="run folder to write"),
    seed: int | None = SEED_OPTION,
    params: Path = PARAMS_OPTION,
) -> None:
    """Convert the QCFS ANN into an IF SNN (threshold = lambda, reset by subtraction, u0 = V/2)."""
    p = with_seed(load_params(params), seed)
    require_run(p.conversion, run, "conversion", params)
    data = dataset_folder(data, p.conversion[run].dataset)
    with one_line_errors():
        accuracy = convert_run(p, run, ann, data, out)
    by_t = " ".join(f"{t + 1}:{a:.1%}" for t, a in enumerate(accuracy))
    typer.echo(f"convert: {run}: IF SNN accuracy by T {by_t} -> {out}")
