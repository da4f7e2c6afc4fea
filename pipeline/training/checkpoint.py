"""Training state for resuming: everything an epoch boundary needs so that a resumed run continues
exactly as the uninterrupted one would (weights, optimiser, schedule, every random generator, the
per-epoch metrics already logged), and the file it lives in, keyed by the experiment that wrote it."""

import hashlib
import io
import json
import random
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from torch import nn
from tqdm.auto import tqdm

from pipeline.core.atomic import write_atomic


@dataclass
class Checkpointing:
    """How a training loop saves and resumes: `save(state)` every `every` epochs (0 = never);
    `resume_state` is a state saved earlier by the same experiment, or None to start afresh."""

    every: int = 1
    save: Callable[[dict], None] | None = None
    resume_state: dict | None = None
    history: list[dict[str, float]] = field(default_factory=list)  # metrics of finished epochs

    def due(self, epoch: int, epochs: int) -> bool:
        done = epoch + 1
        return self.save is not None and self.every > 0 and done % self.every == 0 and done < epochs


def capture(
    modules: dict[str, nn.Module],
    optimizer: torch.optim.Optimizer,
    scheduler: torch.optim.lr_scheduler.LRScheduler,
    generator: torch.Generator,
    next_epoch: int,
    history: list[dict[str, float]],
) -> dict:
    return {
        "modules": {name: m.state_dict() for name, m in modules.items()},
        "optimizer": optimizer.state_dict(),
        "scheduler": scheduler.state_dict(),
        "generator": generator.get_state(),
        "torch_rng": torch.get_rng_state(),
        "numpy_rng": np.random.get_state(),
        "python_rng": random.getstate(),
        "next_epoch": next_epoch,
        "history": list(history),
    }


def restore(
    state: dict,
    modules: dict[str, nn.Module],
    optimizer: torch.optim.Optimizer,
    scheduler: torch.optim.lr_scheduler.LRScheduler,
    generator: torch.Generator,
) -> tuple[int, list[dict[str, float]]]:
    """Load `state` into the live objects; return the epoch to continue from and the metrics history."""
    for name, module in modules.items():
        module.load_state_dict(state["modules"][name])
    optimizer.load_state_dict(state["optimizer"])
    scheduler.load_state_dict(state["scheduler"])
    generator.set_state(state["generator"])
    torch.set_rng_state(state["torch_rng"])
    np.random.set_state(state["numpy_rng"])
    random.setstate(state["python_rng"])
    return int(state["next_epoch"]), list(state["history"])


def check_finite(loss: float, epoch: int, step: int) -> None:
    """Stop on a NaN or infinite loss, naming where it happened (the last checkpoint stays as it was)."""
    if not np.isfinite(loss):
        raise FloatingPointError(f"training loss is {loss} at epoch {epoch + 1}, step {step + 1}; stopped")


CHECKPOINT_DIR = Path("checkpoints")  # outside DVC's outputs, so DVC never deletes it before a re-run
CODE_DIRS = ("pipeline", "stages")


def fingerprint(*parts: object) -> str:
    """Identity of an experiment: its resolved params, seed and device plus the source of every project
    module this process has loaded, so a checkpoint is only ever resumed by the experiment (params and
    code) that wrote it."""
    digest = hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode())
    root = Path(__file__).resolve().parents[2]
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
            tqdm.write(f"note: {self.path} belongs to other params or code; starting afresh", file=sys.stderr)
            return None
        tqdm.write(f"resuming from {self.path} at epoch {state['next_epoch'] + 1}", file=sys.stderr)
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
