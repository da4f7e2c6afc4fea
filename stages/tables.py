"""Stage `tables`: the paper's Tables 1-5 (ours beside the published numbers), the exit-policy comparison
and the headline metrics file."""

from pathlib import Path

import typer

from pipeline.report.bundles import tables_bundle
from pipeline.report.files import write_report_files
from pipeline.report.metrics import headline_metrics
from pipeline.report.results import load_reported_runs
from stages.common import PARAMS_OPTION, load_params, one_line_errors


def tables(
    runs: Path = typer.Option(Path("runs"), help="folder holding the run folders named in params"),
    out: Path = typer.Option(..., help="folder for table1..5 and exit_policies, .md and .csv"),
    metrics: Path = typer.Option(..., help="metrics JSON to write (declared as DVC metrics)"),
    params: Path = PARAMS_OPTION,
) -> None:
    """Regenerate Tables 1-5 in the paper's layout, each as markdown and a tidy CSV twin, and the
    comparison of every exit policy (SEENN-I, SEENN-II, SNNCutoff's Top-K, entropy, oracle)."""
    p = load_params(params)
    with one_line_errors():
        results = load_reported_runs(p, runs, seeds=True)
        files = {
            out / name: content for name, content in tables_bundle(results, p, bool(p.seenn2.runs)).items()
        }
        files[metrics] = headline_metrics(results, p.alpha, p.beta)
    write_report_files(files)
    typer.echo(f"tables: Tables 1-5 from {len(results)} runs (headline alpha={p.alpha}) -> {out}, {metrics}")
