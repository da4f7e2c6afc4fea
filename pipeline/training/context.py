"""How a training runs, beyond what it computes: the device, the speed switches, the torchrun process,
the per-epoch callback and the checkpointing. One typed object, handed from the stage to the loop."""

from collections.abc import Callable
from dataclasses import asdict, dataclass

from pipeline.core.config import DistributedParams
from pipeline.training.checkpoint import Checkpointing
from pipeline.training.distributed import Process
from pipeline.training.speed import Speed

EpochCallback = Callable[[int, dict[str, float]], None]  # (epoch, metrics) after every epoch


@dataclass(frozen=True)
class Execution:
    """How a run executes (not what it computes, up to float rounding): speed switches, the torchrun
    process, the batch and learning-rate rule under torchrun, DataLoader workers for streamed data."""

    speed: Speed = Speed()
    process: Process = Process()
    scaling: DistributedParams = DistributedParams()
    workers: int = 4  # DataLoader processes for streamed datasets (ImageNet)

    def fingerprint(self) -> dict:
        """What a resumable checkpoint must match: the switches and process count change float rounding."""
        return {"speed": asdict(self.speed), "world": self.process.world, "scaling": asdict(self.scaling)}


@dataclass(frozen=True)
class TrainingContext:
    """Everything `fit` needs besides the task, the data and the recipe."""

    device: str = "cpu"  # "cpu", "cuda" or "cuda:<local rank>" under torchrun
    execution: Execution = Execution()
    on_epoch: EpochCallback | None = None  # e.g. the DVCLive logger; replayed for resumed epochs
    checkpointing: Checkpointing | None = None  # resumable state at epoch boundaries
    desc: str = "train"  # progress-bar label
