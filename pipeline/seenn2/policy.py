"""The SEENN-II policy network: the paper's ResNet-8 (an ANN) and what it sees of an input."""

import torch
import torch.nn.functional as F
from torch import nn

from pipeline.data.prepared import DatasetInfo, to_sequence
from pipeline.snn.models import build_model


def policy_input(x: torch.Tensor, info: DatasetInfo, size: int = 0) -> torch.Tensor:
    """What the policy sees, `[1, N, C, H, W]`: the image itself, or for event data the mean frame
    (the policy must decide before the SNN consumes any frame); resized when `size` > 0 (the paper
    downsamples ImageNet to 112x112)."""
    image = to_sequence(x, info, 1)[0] if info.kind == "static" else x.float().mean(dim=1)  # [N, C, H, W]
    if size and size != image.shape[-1]:
        image = F.interpolate(image, size=(size, size), mode="bilinear", align_corners=False)
    return image.unsqueeze(0)


def build_policy(n_actions: int, info: DatasetInfo, width: float = 1.0, size: int = 0) -> nn.Module:
    """The paper's ResNet-8 (16/32/64 channels, one block per stage) as an ANN with ReLU."""
    return build_model("resnet8", n_actions, info.in_channels, size or info.input_size, nn.ReLU, width)


def policy_logits(policy: nn.Module, x: torch.Tensor, info: DatasetInfo, size: int) -> torch.Tensor:
    return policy(policy_input(x, info, size))[0]  # [N, n]
