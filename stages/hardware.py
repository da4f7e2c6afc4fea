"""Stage `hardware`: latency, throughput and energy per image of every run's fixed-T SNN, SEENN-I (at the
headline alpha) and SEENN-II (each finetune folder), measured with the batched early-exit engine; writes
the hardware table (markdown + CSV, and the per-layer energy CSV), Figure 3 and a metrics file."""

from pathlib import Path

import torch
import typer

from pipeline.core.config import resolve_device
from pipeline.hardware.runs import measure_runs
from pipeline.report.hardware import hardware_bundle, hardware_table
from pipeline.report.files import write_report_files
from pipeline.report.metrics import hardware_metrics
from stages.common import PARAMS_OPTION, load_params, one_line_errors


def hardware(
    runs: Path = typer.Option(Path("runs"), help="folder holding the run folders named in params"),
    tables: Path = typer.Option(..., help="folder for hardware.md, hardware.csv and hardware_layers.csv"),
    figures: Path = typer.Option(..., help="folder for figure3.png and figure3.pdf"),
    metrics: Path = typer.Option(..., help="metrics JSON to write"),
    batch_size: int = typer.Option(256, min=1, help="inputs computed together by the engine"),
    warmup: int = typer.Option(1, min=0, help="untimed passes over the test set before timing"),
    repeats: int = typer.Option(5, min=1, help="timed passes; the median is reported"),
    threads: int = typer.Option(
        1, min=0, help="torch CPU threads while timing (0: torch's default; 1 is steadiest on a shared CPU)"
    ),
    params: Path = PARAMS_OPTION,
) -> None:
    """Measure latency (paper appendix D: test-set time / images), throughput and energy per image of the
    fixed-T SNN, SEENN-I and SEENN-II with the batched early-exit engine; draw Figure 3."""
    p = load_params(params)
    if threads:
        torch.set_num_threads(threads)  # spinning OpenMP threads on a busy CPU distort latencies badly
    with one_line_errors():
        device = resolve_device(p.device)
        rows, per_layer = measure_runs(p, runs, device, batch_size, warmup, repeats, log=typer.echo)
        table = hardware_table(rows)
        files = {
            (figures if name.startswith("figure") else tables) / name: content
            for name, content in hardware_bundle(table, per_layer).items()
        }
        files[metrics] = hardware_metrics(table, p.alpha, device, batch_size, torch.get_num_threads())
    write_report_files(files)
    typer.echo(f"hardware: {len(rows)} points on {device} (batch {batch_size}) -> {tables}, {figures}")
