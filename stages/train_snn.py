"""Stage `train_snn`: direct training of one LIF SNN with TET, then its per-step outputs."""

from pathlib import Path

import typer

from pipeline.training.workflows import train_snn_run
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


def train_snn(
    run: str = typer.Argument(..., help="run name, a key of `direct` in params.yaml"),
    data: Path = typer.Option(..., help=DATA_HELP),
    out: Path = typer.Option(..., help="run folder to write"),
    seed: int | None = SEED_OPTION,
    params: Path = PARAMS_OPTION,
) -> None:
    """Train an SNN directly (LIF, surrogate gradient, TET loss) and save its timestep logits."""
    p = with_seed(load_params(params), seed)
    require_run(p.direct, run, "direct", params)
    data = dataset_folder(data, p.direct[run].dataset)
    with one_line_errors():
        accuracy = train_snn_run(p, run, data, out)
    if accuracy is not None:  # the main process
        by_t = " ".join(f"{t + 1}:{a:.1%}" for t, a in enumerate(accuracy))
        typer.echo(f"train_snn: {run}: {p.direct[run].epochs} epochs, test accuracy by T {by_t} -> {out}")
