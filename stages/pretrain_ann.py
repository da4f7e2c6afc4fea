"""Stage `pretrain_ann`: train the QCFS ANN that the `convert` stage turns into an IF SNN."""

from pathlib import Path

import typer

from pipeline.core.atomic import write_json_atomic
from pipeline.training.recipes import pretrain_ann as pretrain
from stages.common import fail, load_params, provenance
from stages.training_io import CheckpointFile, EpochLogger, fingerprint, load_data_for, save_model, start_training


def pretrain_ann(
    run: str = typer.Argument(..., help="run name, a key of `conversion` in params.yaml"),
    data: Path = typer.Option(..., help="prepared dataset folder"),
    out: Path = typer.Option(..., help="ANN folder to write"),
    params: Path = typer.Option(Path("params.yaml"), help="params file"),
) -> None:
    """Train an ANN with QCFS activations (learnable clip lambda, L levels) for ANN-to-SNN conversion."""
    p = load_params(params)
    if run not in p.conversion:
        fail(f"run {run!r} is not in `conversion` of {params}; known: {', '.join(p.conversion) or 'none'}")
    spec = p.conversion[run]
    device, execution = start_training(p)
    main = execution.process.is_main  # only the main process writes
    dataset = load_data_for(run, spec.dataset, data)
    ckpt = CheckpointFile(out, fingerprint("pretrain_ann", run, vars(spec), p.seed, p.device, p.deterministic, execution.fingerprint()))
    logger = EpochLogger(out / "live") if main else None
    try:
        resume = ckpt.checkpointing(p.checkpoint_every, main)
        model, metrics = pretrain(spec, dataset, p.seed, device, logger, resume, execution)
    except FloatingPointError as err:
        fail(f"pretrain_ann {run}: {err} (last checkpoint kept: {ckpt.path})")
    if not main:
        return
    logger.close()
    save_model(out / "model.pt", model)
    write_json_atomic(out / "metrics.json", metrics)
    write_json_atomic(out / "provenance.json", provenance(vars(spec), p.seed, device))
    ckpt.clear()
    typer.echo(f"pretrain_ann: {run}: QCFS ANN test accuracy {metrics['test_accuracy']:.1%} on {device} -> {out}")
