"""Files a training or conversion stage writes into its run folder (paths come from dvc.yaml)."""

import hashlib
import io
import json
import sys
from dataclasses import asdict
from pathlib import Path

import numpy as np
import torch
import typer
from torch import nn

from pipeline.core.atomic import write_atomic, write_json_atomic
from pipeline.training.checkpoint import Checkpointing
from pipeline.core.config import Params, ParamsError, resolve_device
from pipeline.training.recipes import Execution
from pipeline.data.prepared import DatasetInfo, PreparedData, load_prepared
from pipeline.snn.models import PAPER_NAMES
from stages.common import fail


def start_training(p: Params) -> tuple[str, Execution]:
    """A training stage's device (`cuda:<local rank>` under torchrun), determinism mode, speed switches
    and process group."""
    from pipeline.training.determinism import apply_determinism
    from pipeline.training.distributed import start
    from pipeline.training.speed import resolve_speed

    try:
        device = resolve_device(p.device)
    except ParamsError as err:
        fail(str(err))
    apply_determinism(p.deterministic, device)
    process, device = start(device)
    return device, Execution(resolve_speed(p.speed, device), process, p.distributed, p.data.imagenet.workers)


def load_data_for(run_name: str, dataset: str, folder: Path) -> PreparedData:
    try:
        data = load_prepared(folder)
    except FileNotFoundError as err:
        fail(str(err))
    if data.info.name != dataset:
        fail(f"run {run_name!r} wants dataset {dataset!r} but {folder} holds {data.info.name!r}")
    return data


class EpochLogger:
    """Per-epoch curves through DVCLive (drawn by `dvc plots show`), plus a progress line."""

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
    """`logits [T, N, C]` float32 per-step outputs on the test set, `labels [N]` int64."""
    write_atomic(
        path, lambda tmp: np.savez(tmp, logits=logits.astype(np.float32), labels=labels.astype(np.int64))
    )


def run_record(
    run_name: str, info: DatasetInfo, model: str, method: str, T: int, width: float, data_dir: Path, rcs: float = 0.0
) -> dict:
    """`run.json`: what the sweep, tables and figures need to know about a run."""
    return {
        "run": run_name,
        "dataset": info.name,
        "dataset_label": info.label,
        "simulated": info.simulated,
        "model": model,
        "paper_model": PAPER_NAMES[model],
        "method": method,
        "T": T,
        "num_classes": info.num_classes,
        "model_note": f"{PAPER_NAMES[model]} at width x{width:g}"
        + (" (paper widths)" if width == 1 else "")
        + (f", trained with SNNCutoff's RCS regulariser (weight {rcs:g})" if rcs else ""),
        "dataset_info": asdict(info),
        "data_dir": str(data_dir),  # where the prepared dataset was read (the SEENN-II finetune reads it too)
    }


def save_run_record(path: Path, record: dict) -> None:
    write_json_atomic(path, record)


CHECKPOINT_DIR = Path("checkpoints")  # outside DVC's outputs, so DVC never deletes it before a re-run
CODE_DIRS = ("pipeline", "stages")


def fingerprint(*parts: object) -> str:
    """Identity of an experiment: its resolved params, seed and device plus the source of every project
    module this process has loaded, so a checkpoint is only ever resumed by the experiment (params and
    code) that wrote it."""
    digest = hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode())
    root = Path(__file__).resolve().parents[1]
    sources = set()
    for module in list(sys.modules.values()):
        path = Path(getattr(module, "__file__", None) or "/").resolve()
        if path.suffix == ".py" and any(path.is_relative_to(root / d) for d in CODE_DIRS):
            sources.add(path)
    for source in sorted(sources):
        digest.update(source.relative_to(root).as_posix().encode())
        digest.update(source.read_bytes())
    return digest.hexdigest()


class CheckpointFile:
    """One stage's resumable state: `checkpoints/<out folder>.pt`, written atomically, removed when the
    stage finishes; a checkpoint of another experiment (other params or code) is ignored."""

    def __init__(self, out: Path, key: str):
        self.path = CHECKPOINT_DIR / (out.as_posix().strip("/").replace("/", "__") + ".pt")
        self.key = key

    def load(self) -> dict | None:
        if not self.path.is_file():
            return None
        state = torch.load(self.path, map_location="cpu", weights_only=False)
        if state.get("fingerprint") != self.key:
            typer.echo(f"note: {self.path} belongs to other params or code; starting afresh", err=True)
            return None
        typer.echo(f"resuming from {self.path} at epoch {state['next_epoch'] + 1}", err=True)
        return state

    def save(self, state: dict) -> None:
        buffer = io.BytesIO()
        torch.save({**state, "fingerprint": self.key}, buffer)
        write_atomic(self.path, lambda tmp: tmp.write_bytes(buffer.getvalue()))

    def checkpointing(self, every: int, writer: bool = True) -> Checkpointing:
        """Resume from this file if it belongs to this experiment; save to it only if `writer` (under
        torchrun every process resumes, the main process alone writes)."""
        return Checkpointing(every=every, save=self.save if writer else None, resume_state=self.load())

    def clear(self) -> None:
        self.path.unlink(missing_ok=True)
