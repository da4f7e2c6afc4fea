"""Stage `convert`: QCFS ANN -> IF SNN, then its per-step test outputs over T steps."""

from pathlib import Path

import torch
import typer

from pipeline.core.atomic import write_json_atomic
from pipeline.core.config import resolve_device
from pipeline.exits.metrics import accuracy_per_timestep
from pipeline.snn.networks import build_qcfs_ann
from pipeline.training.recipes import Execution, convert_and_simulate, training_set_logits
from pipeline.training.speed import resolve_speed
from stages.common import fail, load_params, provenance
from stages.training_io import load_data_for, run_record, save_model, save_run_record, save_timestep_logits


def convert(
    run: str = typer.Argument(..., help="run name, a key of `conversion` in params.yaml"),
    ann: Path = typer.Option(..., help="folder of the trained QCFS ANN"),
    data: Path = typer.Option(..., help="prepared dataset folder"),
    out: Path = typer.Option(..., help="run folder to write"),
    params: Path = typer.Option(Path("params.yaml"), help="params file"),
) -> None:
    """Convert the QCFS ANN into an IF SNN (threshold = lambda, reset by subtraction, u0 = V/2)."""
    p = load_params(params)
    if run not in p.conversion:
        fail(f"run {run!r} is not in `conversion` of {params}; known: {', '.join(p.conversion) or 'none'}")
    spec = p.conversion[run]
    device = resolve_device(p.device)
    execution = Execution(resolve_speed(p.speed, device), workers=p.data.imagenet.workers)
    dataset = load_data_for(run, spec.dataset, data)
    if not (ann / "model.pt").is_file():
        fail(f"{ann / 'model.pt'} is missing: run the pretrain_ann stage first")
    model = build_qcfs_ann(spec, dataset.info)
    model.load_state_dict(torch.load(ann / "model.pt", map_location="cpu", weights_only=True))
    snn, logits = convert_and_simulate(model, spec, dataset, device, execution)
    save_model(out / "model.pt", snn)
    save_timestep_logits(out / "timestep_logits.npz", logits, dataset.y_test)
    calibration = p.data.imagenet.calibration_per_class if dataset.stream is not None else 0
    save_timestep_logits(out / "train_logits.npz", *training_set_logits(snn, dataset, spec.T, device, execution, calibration))
    save_run_record(out / "run.json", run_record(run, dataset.info, spec.model, "conversion", spec.T, spec.width, data, spec.rcs_weight))
    write_json_atomic(out / "provenance.json", provenance(vars(spec), p.seed, device))
    acc = accuracy_per_timestep(logits, dataset.y_test)
    typer.echo(
        f"convert: {run}: IF SNN accuracy by T "
        + " ".join(f"{t + 1}:{a:.1%}" for t, a in enumerate(acc))
        + f" -> {out}"
    )
