"""What the three training stages do, each end to end: read the prepared data, train (or convert),
write the run folder. The stage modules only parse their arguments and call one of these."""

from pathlib import Path

import numpy as np
import torch

from pipeline.core.atomic import write_json_atomic
from pipeline.core.config import Params
from pipeline.core.errors import StageError
from pipeline.core.provenance import provenance
from pipeline.snn.networks import build_qcfs_ann
from pipeline.training.outputs import load_data_for, save_model, write_snn_run
from pipeline.training.recipes import (
    convert_and_simulate,
    pretrain_ann,
    train_direct,
    training_set_logits,
    validation_logits,
)
from pipeline.training.session import TrainingSession, start_execution


def accuracy_by_t(logits: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """`[T]` test accuracy of the output summed over the first t steps, for the stage's progress line
    (the reported numbers come from the sweep stage)."""
    return (np.cumsum(logits.astype(np.float64), axis=0).argmax(-1) == labels[None]).mean(axis=1)


def calibration_per_class(p: Params, streamed: bool, spec: object = None) -> int:
    """Training images per class in SNNCutoff's calibration outputs: the first
    `data.imagenet.calibration_per_class` of each class of a streamed dataset; of an in-memory one the
    run's `calibration_per_class` (0 = all)."""
    return p.data.imagenet.calibration_per_class if streamed else getattr(spec, "calibration_per_class", 0)


def pretrain_ann_run(p: Params, run: str, data_dir: Path, out: Path) -> float | None:
    """Train the QCFS ANN of `conversion.<run>` into `out` (`model.pt`, `metrics.json`, curves); return its
    test accuracy (None in a torchrun process that is not the main one)."""
    spec = p.conversion[run]
    with TrainingSession(p, "pretrain_ann", run, out, (vars(spec),)) as session:
        data = load_data_for(run, spec.dataset, data_dir)
        model, metrics = pretrain_ann(spec, data, p.seed, session.context)
        if not session.main:
            return None
        save_model(out / "model.pt", model)
        write_json_atomic(out / "metrics.json", metrics)
        write_json_atomic(out / "provenance.json", provenance(vars(spec), p.seed, session.device))
    return metrics["test_accuracy"]


def convert_run(p: Params, run: str, ann_dir: Path, data_dir: Path, out: Path) -> np.ndarray:
    """Convert the trained QCFS ANN in `ann_dir` into an IF SNN, record its per-step outputs and write
    the run folder; return its test accuracy at each T."""
    spec = p.conversion[run]
    device, execution = start_execution(p, distributed=False)
    data = load_data_for(run, spec.dataset, data_dir)
    if not (ann_dir / "model.pt").is_file():
        raise StageError(f"{ann_dir / 'model.pt'} is missing: run the pretrain_ann stage first")
    ann = build_qcfs_ann(spec, data.info)
    ann.load_state_dict(torch.load(ann_dir / "model.pt", map_location="cpu", weights_only=True))
    snn, logits = convert_and_simulate(ann, spec, data, device, execution)
    tta = spec.tta_flip
    calibration = calibration_per_class(p, data.stream is not None, spec)
    train_logits = training_set_logits(
        snn, data, spec.T, device, execution, calibration, p.sweep.calibration_dropout, p.seed, tta
    )
    val_logits = validation_logits(snn, data, spec.T, device, execution, tta)
    write_snn_run(out, run, spec, snn, data, data_dir, logits, val_logits, train_logits, p.seed, device)
    return accuracy_by_t(logits, data.y_test)


def train_snn_run(p: Params, run: str, data_dir: Path, out: Path) -> np.ndarray | None:
    """Train the LIF SNN of `direct.<run>` with TET and write the run folder; return its test accuracy
    at each T (None in a torchrun process that is not the main one)."""
    spec = p.direct[run]
    with TrainingSession(p, "train_snn", run, out, (vars(spec),)) as session:
        data = load_data_for(run, spec.dataset, data_dir)
        model, logits, _ = train_direct(spec, data, p.seed, session.context)
        if not session.main:
            return None
        calibration = calibration_per_class(p, data.stream is not None, spec)
        train_logits = training_set_logits(
            model,
            data,
            spec.T,
            session.device,
            session.execution,
            calibration,
            p.sweep.calibration_dropout,
            p.seed,
            spec.tta_flip,
        )
        val_logits = validation_logits(model, data, spec.T, session.device, session.execution, spec.tta_flip)
        write_snn_run(
            out, run, spec, model, data, data_dir, logits, val_logits, train_logits, p.seed, session.device
        )
    return accuracy_by_t(logits, data.y_test)
