"""Batched early-exit inference: run an SNN one timestep at a time and stop each input at its exit.

The released SEENN code runs all T steps and applies the exit rule afterwards
(`pipeline/exits/policies.py` does
the same on saved logits). This engine really stops. It keeps a pool of at most `batch_size` inputs on
the device; each model call advances every input of the pool by one timestep (`[1, n, ...]` chunks with
stateful neurons). Two ways of leaving, chosen by the policy:

- planned (`FixedT`, `GivenSteps`, `PolicyNet`): every exit step is known before the SNN runs (fixed T,
  or SEENN-II's policy network, run over the whole input first). The inputs are sorted by exit step,
  longest first, and cut into batches, so a batch's active inputs are always a prefix: shrinking the
  inputs and every membrane is a slice (no copy), and the loop reads nothing back from the device (the
  exit steps are read once, before it).
- confidence (`Seenn1`): after each step the exit rule runs on the device; the number of finished inputs
  is read back (it sets the next step's shapes: the step's one host read; the index lists that follow
  come from `nonzero_static` with sizes known from it). Finished inputs write their
  prediction and exit step out, and their slots are refilled with waiting inputs (fresh membranes, step
  0), so every model call stays close to `batch_size` wide and the total work is the sum of the exit
  steps. With nothing left to admit (or `refill=False`, a batch-synchronous server), the pool is
  compacted with `index_select` on inputs, running outputs and every neuron's membrane `v [n, ...]`,
  but only once at least `compact_min_fraction` of its slots are finished; until then finished inputs
  are computed but their results stay frozen.

Why mixing and compacting is valid: BatchNorm in eval mode and every other layer treat inputs
independently and a neuron's state is per input, so an input's outputs do not depend on which others
share its batch or at which step they are.

Exactness: the exit rules repeat `pipeline/exits/policies.py` operation for operation: per-step logits cast to
float64 and summed in step order (numpy's cumsum), the mean divided by t, the score divided by the
temperature, `max softmax = 1 / sum(exp(z - max z))` (equal to numpy's `max(p / sum p)`: the largest `p`
is exactly 1), strict `> alpha`, first-maximum argmax. Per-step logits equal the full-T forward's when the
convolution and matmul kernels round the same for the active batch as for the merged `[T*N]` batch
(a batch-size dependent kernel choice can move a float32 logit by an ulp; in float64 that cannot flip a
spike or an exit in practice). The other difference is the summation order of the softmax normaliser
(an ulp of the confidence).
"""

import statistics
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from pipeline.data.prepared import DatasetInfo, to_sequence
from pipeline.hardware.rules import STEP_RULES, Policy, Seenn1
from pipeline.exits.policies import ExitDecision
from pipeline.snn.networks import spiking_neurons
from pipeline.snn.neurons import SpikingNeuron

# --- shared pieces -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class EngineResult:
    """What the engine computed for every input, in input order."""

    decision: ExitDecision  # exit_step [N] (1-based) and prediction [N], as `pipeline.exits.policies` returns
    scores: np.ndarray  # [N, K] float64 accumulated output at each input's exit (sum; mean for Seenn1 mean)
    sample_steps: int  # input-timesteps computed (finished inputs awaiting compaction included)
    model_calls: int  # one-timestep calls of the model

    @property
    def efficiency(self) -> float:
        """Sum of the exit steps over the input-timesteps computed (1.0: no wasted step)."""
        return float(self.decision.exit_step.sum()) / max(self.sample_steps, 1)


@dataclass
class _Outputs:
    """Result buffers `[N]` / `[N, K]` on the device, filled by input row as inputs finish."""

    exit_step: torch.Tensor
    prediction: torch.Tensor
    scores: torch.Tensor | None = None

    def write(self, rows: torch.Tensor, steps: torch.Tensor, scores: torch.Tensor) -> None:
        if self.scores is None:
            self.scores = scores.new_zeros(len(self.exit_step), scores.shape[1])
        self.exit_step.index_copy_(0, rows, steps)
        self.prediction.index_copy_(0, rows, scores.argmax(dim=-1))
        self.scores.index_copy_(0, rows, scores)


@contextmanager
def stepping(model: nn.Module) -> Iterator[list[SpikingNeuron]]:
    """Eval mode and stateful neurons while the engine runs; both restored (and membranes cleared)."""
    neurons = spiking_neurons(model)
    if not neurons:
        raise ValueError("the model has no spiking neuron to step")
    was_training = model.training
    model.eval()
    for neuron in neurons:
        neuron.set_stateful(True)
    try:
        yield neurons
    finally:
        for neuron in neurons:
            neuron.set_stateful(False)
        model.train(was_training)


def _logits(model: nn.Module, x_t: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
    """One timestep for the pool: model input `x_t [n, C, H, W]` -> logits `[n, K]` float64."""
    return model(x_t.unsqueeze(0).to(dtype))[0].to(torch.float64)


def _keep(neurons: Sequence[SpikingNeuron], keep: torch.Tensor | slice) -> None:
    """Keep the membranes `v [n, ...]` of the inputs that go on (a slice is a view: no copy)."""
    for neuron in neurons:
        if neuron.v is not None:
            neuron.v = neuron.v[keep] if isinstance(keep, slice) else neuron.v.index_select(0, keep)


def _restart(neurons: Sequence[SpikingNeuron], slots: torch.Tensor) -> None:
    """Fresh membranes (the neuron's own initial value) in `slots` of the pool, in place."""
    for neuron in neurons:
        if neuron.v is not None:
            fresh = neuron.initial_membrane(neuron.v[: len(slots)])  # [k, ...], values from the neuron only
            neuron.v.index_copy_(0, slots, fresh)


# --- planned exits -------------------------------------------------------------------------------------


def _active_counts(steps: np.ndarray) -> list[int]:
    """`steps [n]` sorted descending -> inputs still running at t = 1..steps[0]."""
    return [int(np.count_nonzero(steps >= t)) for t in range(1, int(steps[0]) + 1)]


def _run_planned(
    model: nn.Module,
    neurons: Sequence[SpikingNeuron],
    x: torch.Tensor,
    info: DatasetInfo,
    T: int,
    steps: torch.Tensor,
    batch_size: int,
    out: _Outputs,
    dtype: torch.dtype,
) -> tuple[int, int]:
    """Sort by exit step (longest first), run batches whose active inputs are a prefix; return
    (input-timesteps, model calls)."""
    host = steps.cpu().numpy()  # [N]: the one host read; the loop below sets its shapes from it
    if host.shape != (len(x),) or host.min() < 1 or host.max() > T:
        raise ValueError(f"exit steps must be [N] = [{len(x)}] steps in 1..{T}")
    uniform = bool((host == host[0]).all())
    order = np.arange(len(host)) if uniform else np.argsort(-host, kind="stable")
    order_dev = torch.from_numpy(order).to(x.device)
    sample_steps = calls = 0
    for start in range(0, len(order), batch_size):
        rows = order_dev[start : start + batch_size]
        xb = x[start : start + batch_size] if uniform else x.index_select(0, rows)
        active = _active_counts(host[order[start : start + batch_size]])
        for neuron in neurons:
            neuron.reset()
        running = None  # [n, K] float64 running sum of the active prefix
        sequence = to_sequence(xb, info, T)  # [T, n, ...] view
        for t, n in enumerate(active, start=1):
            logits = _logits(model, sequence[t - 1, :n], dtype)
            running = logits if running is None else running[:n] + logits
            sample_steps, calls = sample_steps + n, calls + 1
            n_next = active[t] if t < len(active) else 0
            if n_next < n:  # inputs [n_next:n] of the sorted batch exit after step t
                out.write(rows[n_next:n], steps.new_full((n - n_next,), t), running[n_next:])
                _keep(neurons, slice(0, n_next))
    return sample_steps, calls


# --- confidence exits ----------------------------------------------------------------------------------


def _run_confidence(
    model: nn.Module,
    neurons: Sequence[SpikingNeuron],
    x: torch.Tensor,
    info: DatasetInfo,
    T: int,
    rule: Seenn1,
    batch_size: int,
    compact_min_fraction: float,
    refill: bool,
    out: _Outputs,
    dtype: torch.dtype,
) -> tuple[int, int]:
    """SEENN-I over a pool of slots; return (input-timesteps, model calls)."""
    N, device = len(x), x.device
    waiting = 0  # next input row to admit
    n = n_alive = 0  # pool size and unfinished inputs in it (host copies)
    sample_steps = calls = 0
    while True:
        if n_alive == 0:  # empty pool: start a new one from scratch (cheaper than refilling every slot)
            if waiting == N:
                break
            n = n_alive = min(batch_size, N - waiting)
            rows = torch.arange(waiting, waiting + n, device=device)  # [n] input row of each slot
            pool = x[waiting : waiting + n].clone()  # [n, ...] refilled in place below
            t = torch.zeros(n, dtype=torch.long, device=device)  # [n] steps done by each slot
            alive = torch.ones(n, dtype=torch.bool, device=device)  # [n] slot holds an unfinished input
            running = None  # [n, K] float64 running sums
            waiting += n
            for neuron in neurons:
                neuron.reset()
        t = t + 1
        frames = to_sequence(pool, info, T)  # [T, n, ...] view; each slot reads its own step's input
        logits = _logits(model, frames[(t - 1).clamp(max=T - 1), torch.arange(n, device=device)], dtype)
        running = logits if running is None else running + logits
        sample_steps, calls = sample_steps + n, calls + 1
        score = rule.score(running, t)  # [n, K]
        stop = (rule.confident(score, t) | (t >= T)) & alive  # [n] finished at this step
        n_stop = int(stop.sum())  # the step's one host read; every size below follows from it
        if n_stop == 0:
            continue
        done = torch.nonzero_static(stop, size=n_stop).squeeze(1)  # [n_stop], no second read
        out.write(rows[done], t[done], score[done])
        alive = alive & ~stop
        n_alive -= n_stop
        free = n - n_alive
        if n_alive == 0:
            continue  # the whole pool finished: the next round restarts it
        admit = min(free, N - waiting) if refill else 0
        if admit:  # refill finished slots with waiting inputs, starting at step 0
            slots = torch.nonzero_static(~alive, size=admit).squeeze(1)  # [admit] first free slots
            new_rows = torch.arange(waiting, waiting + admit, device=device)
            rows = rows.index_copy(0, slots, new_rows)
            pool.index_copy_(0, slots, x[waiting : waiting + admit])
            t = t.index_fill(0, slots, 0)
            running = running.index_fill(0, slots, 0.0)
            alive = alive.index_fill(0, slots, True)
            _restart(neurons, slots)
            waiting += admit
            n_alive += admit
            free -= admit
        if free and free >= compact_min_fraction * n:  # drop finished slots
            keep = torch.nonzero_static(alive, size=n_alive).squeeze(1)  # [n_alive]
            pool, rows, t, running = pool[keep], rows[keep], t[keep], running.index_select(0, keep)
            alive = alive[keep]
            _keep(neurons, keep)
            n = n_alive
    return sample_steps, calls


# --- entry points --------------------------------------------------------------------------------------


@torch.inference_mode()
def infer(
    model: nn.Module,
    x: torch.Tensor | np.ndarray,
    info: DatasetInfo,
    T: int,
    policy: Policy,
    batch_size: int = 256,
    compact_min_fraction: float = 0.0,
    refill: bool = True,
) -> EngineResult:
    """Early-exit inference of `model` on every input of `x`.

    Args:
        model: maps `[t, n, C, H, W]` to per-step logits `[t, n, K]`; its spiking neurons are stepped
            statefully (restored afterwards). Runs on the device and dtype of its parameters.
        x: inputs `[N, C, H, W]` (static: repeated at every step) or `[N, frames, C, H, W]` (events: frame
            t at step t), moved to the model's device at once.
        info: the dataset's description.
        T: the largest number of steps (the model's T).
        policy: `FixedT`, `GivenSteps`, `PolicyNet` (planned) or a step rule `Seenn1`, `TopK`, `Entropy`
            (`pipeline.hardware.rules`).
        batch_size: inputs computed together (the pool size).
        compact_min_fraction: SEENN-I drops finished inputs from a pool that cannot be refilled only once
            at least this share of its slots are finished (0: at once; larger: fewer copies, more compute).
        refill: SEENN-I admits waiting inputs into finished slots after every step; False runs each batch
            until its last input exits (a batch-synchronous server).

    Returns:
        Per-input exit steps and predictions (the `pipeline.exits.policies` rule on the full-T logits), the
        accumulated outputs at exit, and the work done.
    """
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    parameter = next(model.parameters())
    # Inputs keep their dtype (uint8 images are scaled and normalised by `to_sequence`, batch by batch).
    x = torch.as_tensor(x).to(device=parameter.device)
    if len(x) == 0:
        raise ValueError("no inputs")
    N = len(x)
    out = _Outputs(
        exit_step=torch.zeros(N, dtype=torch.long, device=x.device),
        prediction=torch.zeros(N, dtype=torch.long, device=x.device),
    )
    with stepping(model) as neurons:
        if isinstance(policy, STEP_RULES):
            work = _run_confidence(
                model,
                neurons,
                x,
                info,
                T,
                policy,
                batch_size,
                compact_min_fraction,
                refill,
                out,
                parameter.dtype,
            )
        else:
            steps = policy.exit_steps(x, T, batch_size)
            work = _run_planned(model, neurons, x, info, T, steps, batch_size, out, parameter.dtype)
    decision = ExitDecision(exit_step=out.exit_step.cpu().numpy(), prediction=out.prediction.cpu().numpy())
    return EngineResult(decision, out.scores.cpu().numpy(), *work)


@dataclass(frozen=True)
class LatencyResult:
    """Wall-clock cost of one policy over a whole test set (paper appendix D: time / samples)."""

    seconds_per_sample: float  # median over the timed passes of (pass time / samples)
    throughput: float  # samples per second at that median
    batch_size: int  # inputs computed together
    n_samples: int  # inputs per pass
    times: tuple[float, ...]  # seconds of each timed pass over the set
    result: EngineResult  # decisions and work of the last pass


def _synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def latency(
    model: nn.Module,
    x: torch.Tensor | np.ndarray,
    info: DatasetInfo,
    T: int,
    policy: Policy,
    batch_size: int = 256,
    device: str = "cpu",
    warmup: int = 1,
    repeats: int = 5,
    compact_min_fraction: float = 0.0,
    refill: bool = True,
) -> LatencyResult:
    """Time `infer` over the whole set: `warmup` untimed passes, then the median of `repeats` passes.

    The model and the inputs are moved to `device` first (a `PolicyNet`'s network must be there too),
    so the timing covers inference, including the policy network, not loading. CUDA passes are
    synchronised before and after.
    """
    if repeats < 1:
        raise ValueError(f"repeats must be >= 1, got {repeats}")
    dev = torch.device(device)
    model.to(dev)
    x = torch.as_tensor(x).to(device=dev)

    def run() -> EngineResult:
        return infer(model, x, info, T, policy, batch_size, compact_min_fraction, refill)

    for _ in range(warmup):
        run()
    times = []
    for _ in range(repeats):
        _synchronize(dev)
        start = time.perf_counter()
        result = run()
        _synchronize(dev)
        times.append(time.perf_counter() - start)
    median = statistics.median(times)
    return LatencyResult(median / len(x), len(x) / median, batch_size, len(x), tuple(times), result)
