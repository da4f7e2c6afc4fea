"""Training state for resuming: everything an epoch boundary needs so that a resumed run continues
exactly as the uninterrupted one would (weights, optimiser, schedule, every random generator, the
per-epoch metrics already logged)."""

import random
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import torch
from torch import nn


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
