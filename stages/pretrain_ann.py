"""Stage `pretrain_ann`: train the QCFS ANN that the `convert` stage turns into an IF SNN."""

from pathlib import Path

import typer

from pipeline.training.workflows import pretrain_ann_run
from stages.common import PARAMS_OPTION, load_params, one_line_errors, require_run


def pretrain_ann(
    run: str = typer.Argument(..., help="run name, a key of `conversion` in params.yaml"),
    data: Path = typer.Option(..., help="prepared dataset folder"),
    out: Path = typer.Option(..., help="ANN folder to write"),
    params: Path = PARAMS_OPTION,
) -> None:
    """Train an ANN with QCFS activations (learnable clip lambda, L levels) for ANN-to-SNN conversion."""
    p = load_params(params)
    require_run(p.conversion, run, "conversion", params)
    with one_line_errors():
        accuracy = pretrain_ann_run(p, run, data, out)
    if accuracy is not None:  # the main process
        typer.echo(f"pretrain_ann: {run}: QCFS ANN test accuracy {accuracy:.1%} -> {out}")
