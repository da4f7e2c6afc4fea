"""Stage `sweep`: all exit operating points of one run from its timestep_logits.npz (no network pass)."""

import json
from pathlib import Path

import numpy as np
import pandas as pd
import typer

from pipeline.core.atomic import write_atomic, write_json_atomic
from pipeline.exits.cutoff import cutoff_rows
from pipeline.exits.sweep import aet_summary, sweep_rows
from stages.common import fail, load_params


def load_logits(run_dir: Path) -> tuple[np.ndarray, np.ndarray, dict]:
    npz, meta = run_dir / "timestep_logits.npz", run_dir / "run.json"
    for f in (npz, meta):
        if not f.is_file():
            fail(f"{f} is missing: run the training or convert stage of this run first")
    with np.load(npz) as z:
        return z["logits"], z["labels"], json.loads(meta.read_text())


def sweep(
    run_dir: Path = typer.Argument(..., help="run folder holding timestep_logits.npz and run.json"),
    params: Path = typer.Option(Path("params.yaml"), help="params file"),
) -> None:
    """Write sweep.csv (fixed T, SEENN-I, and SNNCutoff's Top-K, calibrated Top-K, entropy and oracle
    rows), exit_shares.csv and aet.json into the run folder."""
    p = load_params(params)
    logits, labels, meta = load_logits(run_dir)
    conversion = meta["method"] == "conversion"
    temperature = p.sweep.conversion_temperature if conversion else p.sweep.direct_temperature
    alphas = [*p.sweep.alphas, p.alpha]
    table, shares = sweep_rows(logits, labels, alphas, p.sweep.accumulate, temperature)
    train_logits, train_labels = None, None
    if (run_dir / "train_logits.npz").is_file():
        with np.load(run_dir / "train_logits.npz") as z:
            train_logits, train_labels = z["logits"], z["labels"]
    cutoff = cutoff_rows(
        logits, labels, train_logits, train_labels, p.sweep.topk_betas, p.sweep.cutoff_epsilons,
        p.sweep.entropy_thresholds, temperature, p.sweep.accumulate,
    )
    table = pd.concat([table, cutoff], ignore_index=True)
    summary = aet_summary(logits, labels)  # everything computed before the first write
    write_atomic(run_dir / "sweep.csv", lambda tmp: table.to_csv(tmp, index=False, float_format="%.6g"))
    write_atomic(run_dir / "exit_shares.csv", lambda tmp: shares.to_csv(tmp, index=False, float_format="%.6g"))
    write_json_atomic(run_dir / "aet.json", summary)
    at = table[(table.policy == "seenn1") & (table.param == p.alpha)].iloc[0]
    typer.echo(
        f"sweep: {meta['run']}: T={summary['T']} full-T accuracy {table[table.policy == 'fixed'].accuracy.iloc[-1]:.1%}, "
        f"SEENN-I alpha={p.alpha}: {at.accuracy:.1%} at {at.avg_timesteps:.2f} steps, AET {summary['aet']:.3f}"
    )
