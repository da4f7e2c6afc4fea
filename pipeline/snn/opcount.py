"""Dense operation counts (multiply-accumulates) of convolution and linear layers, per input."""

import torch
from torch import nn


@torch.no_grad()
def macs_per_input(model: nn.Module, example: torch.Tensor) -> dict[str, int]:
    """MACs of each Conv2d / Linear for one input and one timestep, by layer name, plus `total`.

    `example` is one model input (e.g. `[1, 1, C, H, W]` for a spiking model); the count of a layer is
    output elements per input x input features per output element.
    """
    counts: dict[str, int] = {}
    hooks = []
    batch = example.shape[0] * (example.shape[1] if example.dim() == 5 else 1)

    def hook(name):
        def count(module, inputs, output):
            per_out = module.weight[0].numel()  # in_ch/groups * kh * kw, or in_features
            counts[name] = counts.get(name, 0) + output.numel() // batch * per_out

        return count

    for name, module in model.named_modules():
        if isinstance(module, (nn.Conv2d, nn.Linear)):
            hooks.append(module.register_forward_hook(hook(name)))
    was_training = model.training
    model.eval()
    try:
        model(example)
    finally:
        model.train(was_training)
        for h in hooks:
            h.remove()
    counts["total"] = sum(counts.values())
    return counts
