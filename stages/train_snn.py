"""Stage `train_snn`: direct training of one LIF SNN with TET, then its per-step test outputs."""

from pathlib import Path

import typer

from pipeline.exits.metrics import accuracy_per_timestep
from pipeline.training.recipes import training_set_logits, train_direct
from stages.common import fail, load_params, provenance
from stages.training_io import (
    CheckpointFile,
    start_training,
    EpochLogger,
    fingerprint,
    load_data_for,
    run_record,
    save_model,
    save_run_record,
    save_timestep_logits,
)
from pipeline.core.atomic import write_json_atomic


def train_snn(
    run: str = typer.Argument(..., help="run name, a key of `direct` in params.yaml"),
    data: Path = typer.Option(..., help="prepared dataset folder"),
    out: Path = typer.Option(..., help="run folder to write"),
    params: Path = typer.Option(Path("params.yaml"), help="params file"),
) -> None:
    """Train an SNN directly (LIF, surrogate gradient, TET loss) and save its timestep logits."""
    p = load_params(params)
    if run not in p.direct:
        fail(f"run {run!r} is not in `direct` of {params}; known: {', '.join(p.direct) or 'none'}")
    spec = p.direct[run]
    device, execution = start_training(p)
    main = execution.process.is_main  # only the main process writes
    dataset = load_data_for(run, spec.dataset, data)
    ckpt = CheckpointFile(out, fingerprint("train_snn", run, vars(spec), p.seed, p.device, p.deterministic, execution.fingerprint()))
    logger = EpochLogger(out / "live") if main else None
    try:
        resume = ckpt.checkpointing(p.checkpoint_every, main)
        model, logits, metrics = train_direct(spec, dataset, p.seed, device, logger, resume, execution)
    except FloatingPointError as err:
        fail(f"train_snn {run}: {err} (last checkpoint kept: {ckpt.path})")
    if not main:
        return
    logger.close()
    save_model(out / "model.pt", model)
    save_timestep_logits(out / "timestep_logits.npz", logits, dataset.y_test)
    calibration = p.data.imagenet.calibration_per_class if dataset.stream is not None else 0
    save_timestep_logits(out / "train_logits.npz", *training_set_logits(model, dataset, spec.T, device, execution, calibration))
    save_run_record(out / "run.json", run_record(run, dataset.info, spec.model, "direct", spec.T, spec.width, data, spec.rcs_weight))
    write_json_atomic(out / "provenance.json", provenance(vars(spec), p.seed, device))
    ckpt.clear()
    acc = accuracy_per_timestep(logits, dataset.y_test)
    typer.echo(
        f"train_snn: {run}: {spec.epochs} epochs on {device}, test accuracy by T "
        + " ".join(f"{t + 1}:{a:.1%}" for t, a in enumerate(acc))
        + f" -> {out}"
    )
