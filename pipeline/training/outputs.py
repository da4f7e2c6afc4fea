"""The files a training or conversion stage writes into its run folder (the folder comes from dvc.yaml):
`model.pt`, `timestep_logits.npz` (test set), `val_logits.npz` (validation split, where operating points are
chosen; no inputs when the data have none), `train_logits.npz` (SNNCutoff's calibration), `run.json`,
`provenance.json`, and the DVCLive curves in `live/`."""

import io
from dataclasses import asdict
from pathlib import Path

import numpy as np
import torch
from torch import nn

from pipeline.core.atomic import write_atomic, write_json_atomic
from pipeline.core.config import ConversionRun, DirectRun
from pipeline.core.errors import StageError
from pipeline.core.provenance import provenance
from pipeline.data.prepared import DatasetInfo, PreparedData, load_prepared
from pipeline.snn.models import PAPER_NAMES


def load_data_for(run_name: str, dataset: str, folder: Path) -> PreparedData:
    """The prepared dataset in `folder`, checked to be the one the run's params name."""
    data = load_prepared(folder)
    if data.info.name != dataset:
        raise StageError(f"run {run_name!r} wants dataset {dataset!r} but {folder} holds {data.info.name!r}")
    return data


class EpochLogger:
    """Per-epoch curves through DVCLive (drawn by `dvc plots show`)."""

    def __init__(self, folder: Path):
        from dvclive import Live

        self.live = Live(dir=str(folder), save_dvc_exp=False, dvcyaml=None, report=None)

    def __call__(self, epoch: int, metrics: dict[str, float]) -> None:
        for key, value in metrics.items():
            self.live.log_metric(key, value)
        self.live.next_step()

    def close(self) -> None:
        self.live.end()


def save_model(path: Path, model: nn.Module) -> None:
    """Weights as torch.save bytes. Saved through a buffer: torch names the archive inside the file
    after the file, and the temporary name would make equal weights differ byte for byte."""
    buffer = io.BytesIO()
    torch.save(model.state_dict(), buffer)
    write_atomic(path, lambda tmp: tmp.write_bytes(buffer.getvalue()))


def save_timestep_logits(path: Path, logits: np.ndarray, labels: np.ndarray) -> None:
    """`logits [T, N, C]` float32 per-step outputs, `labels [N]` int64."""
    write_atomic(
        path, lambda tmp: np.savez(tmp, logits=logits.astype(np.float32), labels=labels.astype(np.int64))
    )


def run_record(
    run_name: str,
    info: DatasetInfo,
    spec: DirectRun | ConversionRun,
    data_dir: Path,
    released: dict | None = None,
) -> dict:
    """`run.json`: what the sweep, tables and figures need to know about a run (`released`: the authors'
    checkpoint an imported run was read from, under the key `released`)."""
    method = "direct" if isinstance(spec, DirectRun) else "conversion"
    paper_model = PAPER_NAMES[spec.model]
    record = {
        "run": run_name,
        "dataset": info.name,
        "dataset_label": info.label,
        "simulated": info.simulated,
        "model": spec.model,
        "paper_model": paper_model,
        "method": method,
        "T": spec.T,
        "num_classes": info.num_classes,
        "model_note": f"{paper_model} at width x{spec.width:g}"
        + (" (paper widths)" if spec.width == 1 else "")
        + (
            f", trained with SNNCutoff's RCS regulariser (weight {spec.rcs_weight:g})"
            if spec.rcs_weight
            else ""
        ),
        "dataset_info": asdict(info),
        "data_dir": str(data_dir),  # where the prepared dataset was read (the SEENN-II finetune reads it too)
    }
    if released is not None:
        record["model_note"] += f", the authors' released weights ({released['source']})"
        record["released"] = released
    return record


def write_snn_run(
    out: Path,
    run_name: str,
    spec: DirectRun | ConversionRun,
    model: nn.Module,
    data: PreparedData,
    data_dir: Path,
    test_logits: np.ndarray,
    val_logits: tuple[np.ndarray, np.ndarray],
    train_logits: tuple[np.ndarray, np.ndarray],
    seed: int,
    device: str,
    released: dict | None = None,
    params: dict | None = None,
) -> None:
    """Everything later stages read of a trained, converted or imported SNN (`released`: see run_record;
    `params`: the run's params as provenance.json records them, by default the spec's)."""
    save_model(out / "model.pt", model)
    save_timestep_logits(out / "timestep_logits.npz", test_logits, data.y_test)
    save_timestep_logits(out / "val_logits.npz", *val_logits)
    save_timestep_logits(out / "train_logits.npz", *train_logits)
    write_json_atomic(out / "run.json", run_record(run_name, data.info, spec, data_dir, released))
    record = vars(spec) if params is None else params
    write_json_atomic(out / "provenance.json", provenance(record, seed, device))
