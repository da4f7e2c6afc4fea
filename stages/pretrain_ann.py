"""Stage `pretrain_ann`: train the QCFS ANN that the `convert` stage turns into an IF SNN."""

from pathlib import Path

import typer

from pipeline.training.workflows import pretrain_ann_run
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


def pretrain_ann(
    run: str = typer.Argument(..., help="run name, a key of `conversion` in params.yaml"),
    data: Path = typer.Option(..., help=DATA_HELP),
    out: Path = typer.Option(..., help="ANN folder to write"),
    seed: int | None = SEED_OPTION,
    params: Path = PARAMS_OPTION,
) -> None:
    """Train an ANN with QCFS activations (learnable clip lambda, L levels) for ANN-to-SNN conversion."""
    p = with_seed(load_params(params), seed)
    require_run(p.conversion, run, "conversion", params)
    data = dataset_folder(data, p.conversion[run].dataset)
    with one_line_errors():
        accuracy = pretrain_ann_run(p, run, data, out)
    if accuracy is not None:  # the main process
        typer.echo(f"pretrain_ann: {run}: QCFS ANN test accuracy {accuracy:.1%} -> {out}")
