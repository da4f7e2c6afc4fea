"""Stage `figures`: Figure 1 (accuracy against T, AET marked) and Figure 4 (accuracy against average T,
SEENN-I against fixed T, exit-step pie charts), each as PNG and PDF."""

from pathlib import Path

import typer

from pipeline.atomic import write_atomic
from pipeline.report.figures import figure1, figure4
from pipeline.report.results import attach_seenn2, load_runs
from stages.common import fail, load_params


def figures(
    run_dirs: list[Path] = typer.Argument(..., help="run folders (each with run.json, sweep.csv, aet.json)"),
    out: Path = typer.Option(..., help="folder for figure1/figure4 .png and .pdf"),
    seenn2: list[Path] = typer.Option([], help="SEENN-II finetune folders (seenn2.csv, seenn2.json); repeatable"),
    params: Path = typer.Option(Path("params.yaml"), help="params file"),
) -> None:
    """Draw the paper's Figures 1 and 4 from the run folders."""
    load_params(params)
    try:
        runs = attach_seenn2(load_runs(run_dirs), seenn2)
    except (FileNotFoundError, ValueError) as err:
        fail(str(err))
    figs = {"figure1": figure1(runs), "figure4": figure4(runs)}
    for name, fig in figs.items():
        # No creation date in the PDF, so the same inputs give byte-identical files.
        write_atomic(out / f"{name}.png", lambda tmp, fig=fig: fig.savefig(tmp, dpi=150, format="png"))
        write_atomic(
            out / f"{name}.pdf",
            lambda tmp, fig=fig: fig.savefig(tmp, format="pdf", metadata={"CreationDate": None}),
        )
    typer.echo(f"figures: figure1 and figure4 from {len(runs)} runs -> {out}")
