"""What `device: auto` and the `auto` speed switches become on this machine, without loading torch's
kernels: the rule the training stages apply, written down by check_params into build/params.yaml
(`resolved.execution`), which every computing stage declares. So a result computed on a GPU (bf16,
channels-last, fused and compiled neurons) and one computed on a CPU have different DVC cache keys, and
dvc.lock says which path produced each model."""

from pipeline.core.rules import ParamsError
from pipeline.core.sections import Params, SpeedParams

SPEED_KEYS = ("amp", "channels_last", "fused_neurons", "data_on_device", "compile", "fused_qcfs")


def device_for(device: str, cuda_available: bool) -> str:
    """`auto` -> `cuda` when a GPU is visible, else `cpu`; `cuda` without one is a params error."""
    if device == "auto":
        return "cuda" if cuda_available else "cpu"
    if device == "cuda" and not cuda_available:
        raise ParamsError(
            "params: device = 'cuda' is not allowed here: no CUDA GPU is visible (use auto or cpu)"
        )
    return device


def speed_switches(params: SpeedParams, device: str) -> dict[str, bool]:
    """Each speed switch on or off for `device`: `auto` turns on everything on CUDA and only device-held
    data on a CPU (measured: the others change float rounding there and buy little; docs "Speed and GPUs")."""
    cuda = device == "cuda" or device.startswith("cuda:")
    auto = dict(
        amp=cuda, channels_last=cuda, fused_neurons=cuda, data_on_device=True, compile=cuda, fused_qcfs=cuda
    )
    return {k: auto[k] if getattr(params, k) == "auto" else bool(getattr(params, k)) for k in SPEED_KEYS}


def cuda_visible(device: str) -> bool:
    """Whether torch sees a CUDA GPU; torch is loaded only when `device` is not `cpu`."""
    if device == "cpu":
        return False
    import torch

    return torch.cuda.is_available()


def resolved_execution(p: Params, cuda_available: bool) -> dict:
    """`{device, speed: {switch: bool}}`: what this machine computes with under `p`."""
    device = device_for(p.device, cuda_available)
    return {"device": device, "speed": speed_switches(p.speed, device)}
