"""Stage `figures`: Figure 1 (accuracy against T, AET marked) and Figure 4 (accuracy against average T,
SEENN-I against fixed T, exit-step pie charts), each as PNG and PDF."""

from pathlib import Path

import typer

from pipeline.core.atomic import write_atomic
from pipeline.report.exit_policies import exit_policies_figure
from pipeline.report.figures import figure1, figure4
from pipeline.report.results import attach_seenn2, load_runs
from stages.common import fail, load_params
from stages.layout import report_inputs


def figures(
    runs: Path = typer.Option(Path("runs"), help="folder holding the run folders named in params"),
    out: Path = typer.Option(..., help="folder for figure1/figure4 .png and .pdf"),
    params: Path = typer.Option(Path("params.yaml"), help="params file"),
) -> None:
    """Draw the paper's Figures 1 and 4 and the exit-policy comparison from the run folders."""
    p = load_params(params)
    try:
        run_dirs, seenn2 = report_inputs(p, runs)
        results = attach_seenn2(load_runs(run_dirs), seenn2)
    except (FileNotFoundError, ValueError) as err:
        fail(str(err))
    figs = {"figure1": figure1(results), "figure4": figure4(results), "exit_policies": exit_policies_figure(results)}
    for name, fig in figs.items():
        # No creation date in the PDF, so the same inputs give byte-identical files.
        write_atomic(out / f"{name}.png", lambda tmp, fig=fig: fig.savefig(tmp, dpi=150, format="png"))
        write_atomic(
            out / f"{name}.pdf",
            lambda tmp, fig=fig: fig.savefig(tmp, format="pdf", metadata={"CreationDate": None}),
        )
    typer.echo(f"figures: figure1, figure4 and exit_policies from {len(results)} runs -> {out}")
