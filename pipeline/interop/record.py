"""Record a foreign SNN's per-timestep outputs `logits [T, N, C]` and the labels `[N]` over a data loader.

Two ways a network can be driven, whatever framework built it:

- sequence (`step=False`): one call takes the whole time-major input `x_seq [T, n, ...]` and returns
  `[T, n, C]` (spikingjelly in step mode 'm'; an snnTorch network whose forward loops over the first axis).
- step (`step=True`): one call advances one timestep, `x_t [n, ...]` -> `[n, C]`, the state living in
  the network between calls (spikingjelly in step mode 's'; snnTorch neurons with `init_hidden=True`; or
  any function that keeps its own membranes).

The state is cleared before every batch by `reset(model)`; by default spikingjelly's
`functional.reset_net` for a network holding spikingjelly neurons, snnTorch's `utils.reset` for one
holding snnTorch neurons. The exits accumulate the outputs themselves (`pipeline/exits/policies.py` sums
them over steps), so record the network's output at each step, not a running sum.
"""

from collections.abc import Callable, Iterable
from typing import Any

import numpy as np
import torch
from torch import nn

from pipeline.interop.outputs import save_outputs  # noqa: F401 (re-exported: record, then save)

INPUTS = ("static", "frames")


def default_reset(model: Any) -> Callable[[Any], None] | None:
    """The framework's own reset for a network holding its neurons (spikingjelly or snnTorch), else None."""
    modules = list(model.modules()) if isinstance(model, nn.Module) else []
    try:
        from spikingjelly.activation_based import base, functional

        if any(isinstance(m, base.MemoryModule) for m in modules):
            return functional.reset_net
    except ImportError:  # the framework is not installed: the network cannot hold its neurons either
        pass
    try:
        import snntorch
        from snntorch import utils

        if any(isinstance(m, snntorch.SpikingNeuron) for m in modules):
            return utils.reset
    except ImportError:
        pass
    return None


def time_major(x: torch.Tensor, T: int, inputs: str) -> torch.Tensor:
    """The network's input `[T, n, ...]`: a static batch `x [n, ...]` repeated at every step (direct
    encoding, a view), or event frames `x [n, frames >= T, ...]` with frame t fed at step t."""
    if inputs == "static":
        return x.unsqueeze(0).expand(T, *x.shape)
    if x.dim() < 2 or x.shape[1] < T:
        raise ValueError(f"inputs='frames' needs batches [n, frames >= T={T}, ...], got {tuple(x.shape)}")
    return x[:, :T].transpose(0, 1)


def _tensor(out: Any, output: Callable[[Any], torch.Tensor] | None, where: str) -> torch.Tensor:
    out = output(out) if output is not None else out
    if not isinstance(out, torch.Tensor):
        raise TypeError(
            f"{where} returned {type(out).__name__}, not a tensor: pass output= to pick the logits from it "
            "(e.g. output=lambda out: out[0] for snnTorch's (spikes, membranes))"
        )
    return out


def record_batch(
    model: Callable,
    x: torch.Tensor,
    T: int,
    step: bool = False,
    inputs: str = "static",
    output: Callable[[Any], torch.Tensor] | None = None,
) -> torch.Tensor:
    """One batch `x [n, ...]` (or `[n, frames, ...]`) -> per-step outputs `[T, n, C]` float32 on the CPU.
    The caller resets the network's state before."""
    x_seq = time_major(x, T, inputs)  # [T, n, ...]
    if step:
        outs = [_tensor(model(x_seq[t]), output, "model(x_t)") for t in range(T)]  # T x [n, C]
        y = torch.stack(outs)
    else:
        y = _tensor(model(x_seq), output, "model(x_seq)")
    if y.dim() != 3 or y.shape[:2] != (T, len(x)):
        mode = "model(x_t) must return [n, C]" if step else "model(x_seq [T, n, ...]) must return [T, n, C]"
        raise ValueError(f"{mode}; got outputs {tuple(y.shape)} for T={T}, n={len(x)}")
    return y.detach().float().cpu()


def record_outputs(
    model: Callable,
    loader: Iterable[tuple[Any, Any]],
    T: int,
    step: bool = False,
    inputs: str = "static",
    reset: Callable[[Any], None] | None = None,
    output: Callable[[Any], torch.Tensor] | None = None,
    device: str | torch.device | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Run `model` for `T` steps on every batch of `loader` and collect its output at each step.

    Args:
        model: an `nn.Module` or any callable (see the module docstring for `step`).
        loader: yields `(x, y)`: inputs `[n, ...]` (`inputs='static'`, fed at every step) or
            `[n, frames, ...]` (`inputs='frames'`, frame t at step t), labels `[n]` (tensors or arrays).
        T: timesteps to run.
        step: False: `model(x_seq [T, n, ...]) -> [T, n, C]`; True: `model(x_t [n, ...]) -> [n, C]`.
        inputs: "static" or "frames".
        reset: `reset(model)` clears the state before each batch; by default the framework's own
            (`default_reset`). A callable that is not a module and holds state needs one.
        output: picks the per-step logits from what the model returns (e.g. a tuple), when it is not a tensor.
        device: where the inputs go; by default the device of the model's first parameter (CPU without).

    Returns:
        `logits [T, N, C]` float32 and `labels [N]` int64 (numpy), N = every input of the loader.
    """
    if T < 1:
        raise ValueError(f"T must be >= 1, got {T}")
    if inputs not in INPUTS:
        raise ValueError(f"inputs={inputs!r} is not allowed: one of {', '.join(INPUTS)}")
    reset = reset if reset is not None else default_reset(model)
    is_module = isinstance(model, nn.Module)
    if device is None:
        parameter = next(model.parameters(), None) if is_module else None
        device = parameter.device if parameter is not None else torch.device("cpu")
    was_training = model.training if is_module else False
    if is_module:
        model.eval()  # dropout off, BatchNorm on its running statistics: outputs of the deployed network
    logits, labels = [], []
    try:
        with torch.no_grad():
            for x, y in loader:
                if reset is not None:
                    reset(model)
                x = torch.as_tensor(x).to(device)
                logits.append(record_batch(model, x, T, step, inputs, output))
                labels.append(torch.as_tensor(y).reshape(-1).cpu())
        if reset is not None:
            reset(model)  # leave no batch's membranes behind
    finally:
        if is_module:
            model.train(was_training)
    if not logits:
        raise ValueError("the loader yielded no batch")
    return torch.cat(logits, dim=1).numpy(), torch.cat(labels).numpy().astype(np.int64)
