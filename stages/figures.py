"""Stage `figures`: Figure 1 (accuracy against T, AET marked), Figure 4 (accuracy against average T,
SEENN-I and SEENN-II against fixed T, exit-step pie charts), Figure 5 (test inputs SEENN-II's policy sends
to the fewest and the most timesteps) and the exit-policy figure, each as PNG and PDF."""

from pathlib import Path

import typer

from pipeline.report.bundles import curves_bundle, figures_bundle
from pipeline.report.figure5 import figure5, policy_examples
from pipeline.report.files import remove_stale, write_report_files
from pipeline.report.results import load_reported_runs
from stages.common import PARAMS_OPTION, load_params, one_line_errors


def figures(
    runs: Path = typer.Option(Path("runs"), help="folder holding the run folders named in params"),
    out: Path = typer.Option(..., help="folder for figure1/figure4/exit_policies .png and .pdf"),
    curves: Path = typer.Option(..., help="folder for the sweep curves, <run>/<policy>.csv (DVC plots)"),
    params: Path = PARAMS_OPTION,
) -> None:
    """Draw the paper's Figures 1 and 4 and the exit-policy comparison from the run folders."""
    p = load_params(params)
    with one_line_errors():
        results = load_reported_runs(p, runs)
        files = {out / name: fig for name, fig in figures_bundle(results).items()}
        files |= {curves / name: curve for name, curve in curves_bundle(results).items()}
        fig5 = figure5(policy_examples(p, runs))  # what SEENN-II's policy learned
        files |= {out / "figure5.png": fig5, out / "figure5.pdf": fig5}
    write_report_files(files)
    remove_stale(curves, set(files))  # curves of runs the params no longer name
    typer.echo(
        f"figures: figure1, figure4, exit_policies and sweep curves from {len(results)} runs "
        f"-> {out}, {curves}"
    )
