"""Training in a wall-clock time box: how many epochs fit, measured before training starts, and a guard
that stops a run between epochs when the box is spent anyway.

A cosine schedule is fixed by its number of epochs, so the count must be known before the first step.
The recipe (`benchmarks/gpu_check.py` uses it): time a short warm-up on a subset whose batches have the
shapes of a full epoch (`warmup_samples`: the first pass pays compilation and cuDNN autotuning, a second
pass is the steady state), scale its step time to a full epoch and add one evaluation pass
(`epoch_estimate`), take the whole epochs that fit in what is left of the box (`epochs_within`), then
train with that schedule under `EpochDeadline`, which ends the run after an epoch if the next one would
end past a hard deadline (the schedule is then unfinished, and the guard says so).
"""

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field


def warmup_samples(n: int, batch_size: int, steps: int) -> int:
    """Size of the first-`k` subset of an `n`-sample training set whose pass runs `steps` full batches and
    then a last batch as large as a full pass's last one (`n % batch_size`, when not 0), so the warm-up
    meets every batch shape of the real epochs. At most `n`."""
    if n < 1 or batch_size < 1 or steps < 1:
        raise ValueError(f"n, batch_size and steps must be >= 1, got {n}, {batch_size}, {steps}")
    return min(n, steps * batch_size + n % batch_size)


def epoch_estimate(
    pass_s: float, pass_steps: int, steps_per_epoch: int, eval_s: float = 0.0, pass_eval_s: float = 0.0
) -> float:
    """Seconds of one training epoch: the timed warm-up pass (`pass_s` over `pass_steps` steps, less
    `pass_eval_s`, the part of it spent in its own evaluation) scaled to `steps_per_epoch`, plus `eval_s`,
    the evaluation pass that `fit` runs after every epoch."""
    if pass_steps < 1 or steps_per_epoch < 1:
        raise ValueError(f"pass_steps and steps_per_epoch must be >= 1, got {pass_steps}, {steps_per_epoch}")
    if min(pass_s, eval_s, pass_eval_s) < 0:
        raise ValueError(f"times must be >= 0, got {pass_s}, {eval_s}, {pass_eval_s}")
    return max(pass_s - pass_eval_s, 0.0) / pass_steps * steps_per_epoch + eval_s


def epochs_within(
    budget_s: float, epoch_s: float, margin: float = 0.95, minimum: int = 1, maximum: int | None = None
) -> int:
    """Whole epochs of `epoch_s` seconds that fit in `margin * budget_s` (the margin absorbs the estimate's
    noise), clipped to `minimum..maximum`. A budget that holds none still gives `minimum`."""
    if epoch_s <= 0 or not math.isfinite(epoch_s):
        raise ValueError(f"epoch_s must be a positive number of seconds, got {epoch_s}")
    if not 0 < margin <= 1:
        raise ValueError(f"margin must be in (0, 1], got {margin}")
    if minimum < 0 or (maximum is not None and maximum < minimum):
        raise ValueError(f"need 0 <= minimum <= maximum, got {minimum}, {maximum}")
    fit = math.floor(max(budget_s, 0.0) * margin / epoch_s)
    return max(minimum, fit if maximum is None else min(fit, maximum))


class TimeBoxExceeded(RuntimeError):
    """Raised by `EpochDeadline` between epochs: the run stopped after `epochs_done` of `epochs`."""

    def __init__(self, epochs_done: int, epochs: int, seconds: float):
        super().__init__(
            f"time box spent: stopped after {epochs_done} of {epochs} epochs ({seconds:.1f} s); "
            f"the cosine schedule did not finish"
        )
        self.epochs_done, self.epochs = epochs_done, epochs


@dataclass
class EpochDeadline:
    """An `on_epoch` callback for `fit` (`TrainingContext.on_epoch`): records each epoch's metrics and wall
    time, and after an epoch raises `TimeBoxExceeded` when another epoch, as long as the longest so far,
    would end past `deadline` (a `time.perf_counter()` value). The model keeps the weights of the epochs
    done. Never raises after the last of `epochs`."""

    deadline: float  # time.perf_counter() value that no epoch may end after
    epochs: int  # the planned number of epochs
    then: Callable[[int, dict[str, float]], None] | None = None  # a further callback, called first
    clock: Callable[[], float] = time.perf_counter
    start: float | None = None  # set at creation unless given
    epoch_s: list[float] = field(default_factory=list)  # wall time of each finished epoch
    history: list[dict[str, float]] = field(default_factory=list)  # metrics of each finished epoch

    def __post_init__(self):
        self._last = self.start = self.clock() if self.start is None else self.start

    def __call__(self, epoch: int, metrics: dict[str, float]) -> None:
        now = self.clock()
        self.epoch_s.append(now - self._last)
        self.history.append(dict(metrics))
        self._last = now
        if self.then is not None:
            self.then(epoch, metrics)
        done = epoch + 1
        if done < self.epochs and now + max(self.epoch_s) > self.deadline:
            raise TimeBoxExceeded(done, self.epochs, now - self.start)
