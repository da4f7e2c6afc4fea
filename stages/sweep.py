"""Stage `sweep`: all exit operating points of one run from its timestep_logits.npz (no network pass)."""

from pathlib import Path

import typer

from pipeline.exits.sweep import sweep_run, write_run_sweep
from stages.common import PARAMS_OPTION, load_params, one_line_errors


def sweep(
    run_dir: Path = typer.Argument(..., help="run folder holding timestep_logits.npz and run.json"),
    params: Path = PARAMS_OPTION,
) -> None:
    """Write sweep.csv (fixed T, SEENN-I, and SNNCutoff's Top-K, calibrated Top-K, entropy and oracle
    points, with 95 % intervals), val_sweep.csv (the same points on the validation split), exit_shares.csv,
    aet.json and decisions.npz into the run folder."""
    p = load_params(params)
    with one_line_errors():
        result = sweep_run(run_dir, p.sweep, p.alpha)  # everything computed before the first write
    write_run_sweep(run_dir, result)
    table, summary = result.table, result.summary
    at = table[(table.policy == "seenn1") & (table.param == p.alpha)].iloc[0]
    full = table[table.policy == "fixed"].iloc[-1]
    typer.echo(
        f"sweep: {result.run}: T={summary['T']} full-T accuracy {full.accuracy:.1%} "
        f"[{full.accuracy_low:.1%}, {full.accuracy_high:.1%}], SEENN-I alpha={p.alpha}: "
        f"{at.accuracy:.1%} at {at.avg_timesteps:.2f} steps, AET {summary['aet']:.3f}"
    )
