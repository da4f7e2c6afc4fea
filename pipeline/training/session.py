"""The skeleton every training stage shares, written once: the device, determinism mode, torchrun
process group and speed switches; the experiment's resumable checkpoint; the DVCLive logger; the
one-line error for a non-finite loss; and the gate that lets only the main process write."""

from pathlib import Path

from pipeline.core.config import Params, resolve_device
from pipeline.core.errors import StageError
from pipeline.training.checkpoint import CheckpointFile, fingerprint
from pipeline.training.context import Execution, TrainingContext
from pipeline.training.determinism import apply_determinism
from pipeline.training.distributed import start
from pipeline.training.outputs import EpochLogger
from pipeline.training.speed import resolve_speed


def start_execution(p: Params, distributed: bool = True) -> tuple[str, Execution]:
    """A stage's device (`cuda:<local rank>` under torchrun), determinism mode, process group and speed
    switches. `distributed=False`: one process whatever the launcher (conversion runs no training)."""
    device = resolve_device(p.device)
    apply_determinism(p.deterministic, device)
    if not distributed:
        return device, Execution(resolve_speed(p.speed, device), workers=p.data.imagenet.workers)
    process, device = start(device)
    return device, Execution(resolve_speed(p.speed, device), process, p.distributed, p.data.imagenet.workers)


class TrainingSession:
    """`with TrainingSession(p, stage, run, out, key) as s:` train with `s.context`, write if `s.main`.

    The checkpoint in `checkpoints/` is resumed only by the same experiment: `key` (the run's params),
    the seed, device, determinism, execution and the source of every loaded project module. On success
    the logger is closed and the checkpoint removed; a NaN or infinite loss becomes a `StageError` that
    names the run and keeps the last checkpoint.
    """

    def __init__(self, p: Params, stage: str, run: str, out: Path, key: tuple):
        self.stage, self.run = stage, run
        self.device, self.execution = start_execution(p)
        self.main = self.execution.process.is_main  # only the main process writes
        experiment = fingerprint(
            stage, run, *key, p.seed, p.device, p.deterministic, self.execution.fingerprint()
        )
        self.checkpoint = CheckpointFile(out, experiment)
        self.logger = EpochLogger(out / "live") if self.main else None
        checkpointing = self.checkpoint.checkpointing(p.checkpoint_every, self.main)
        self.context = TrainingContext(self.device, self.execution, self.logger, checkpointing, desc=stage)

    def __enter__(self) -> "TrainingSession":
        return self

    def __exit__(self, kind, error, traceback) -> None:
        if isinstance(error, FloatingPointError):
            raise StageError(
                f"{self.stage} {self.run}: {error} (last checkpoint kept: {self.checkpoint.path})"
            ) from error
        if error is None and self.main:
            self.logger.close()
            self.checkpoint.clear()
