"""Stage `import_released`: the authors' released checkpoint through our evaluation (a run folder in the
format of the convert and train_snn stages)."""

from pathlib import Path

import typer

from pipeline.training.released_run import import_released_run
from stages.common import PARAMS_OPTION, load_params, one_line_errors, require_run


def import_checkpoint(
    run: str = typer.Argument(..., help="run name, a key of `released` in params.yaml"),
    file: Path = typer.Option(..., help="the authors' checkpoint file (never downloaded here)"),
    data: Path = typer.Option(..., help="prepared dataset folder"),
    out: Path = typer.Option(..., help="run folder to write"),
    params: Path = PARAMS_OPTION,
) -> None:
    """Map the released weights onto our model (its layout in params), convert a QCFS ANN to IF neurons
    as the convert stage does, and record the per-step outputs."""
    p = load_params(params)
    require_run(p.released, run, "released", params)
    with one_line_errors():
        accuracy = import_released_run(p, run, file, data, out)
    by_t = " ".join(f"{t + 1}:{a:.1%}" for t, a in enumerate(accuracy))
    typer.echo(f"import-checkpoint: {run} ({p.released[run].layout}): accuracy by T {by_t} -> {out}")
