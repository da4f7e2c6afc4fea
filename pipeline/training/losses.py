"""Training losses over per-timestep outputs `[T, N, C]`."""

import torch
import torch.nn.functional as F


def tet_loss(
    outputs: torch.Tensor,
    labels: torch.Tensor,
    lam: float = 1e-3,
    phi: float = 1.0,
    mode: str = "per_step",
    label_smoothing: float = 0.0,
) -> torch.Tensor:
    """TET (Deng et al. 2022): (1 - lam) * mean_t CE(O_t, y) + lam * MSE(O, phi).

    `mode='per_step'` (released code) applies the CE to each step's own output O_t; `mode='accumulated'`
    (paper eq. 11) applies it to the running mean f_t(x) = mean_{s<=t} O_s at every t. `label_smoothing`
    (the fast recipe; TET has none): each CE's target is (1 - s) * one-hot + s / C.
    outputs: `[T, N, C]`, labels: `[N]`.
    """
    T = outputs.shape[0]
    if mode == "per_step":
        per_t = outputs
    elif mode == "accumulated":
        steps = torch.arange(1, T + 1, device=outputs.device, dtype=outputs.dtype)
        per_t = outputs.cumsum(0) / steps[:, None, None]
    else:
        raise ValueError(f"TET mode must be 'per_step' or 'accumulated', got {mode!r}")
    ce = F.cross_entropy(per_t.flatten(0, 1), labels.repeat(T), label_smoothing=label_smoothing)  # mean over t, n
    if lam == 0:
        return ce
    mse = F.mse_loss(outputs, torch.full_like(outputs, phi))
    return (1 - lam) * ce + lam * mse
