"""Spiking VGGs: VGG-16 (CIFAR tables) and VGGSNN (CIFAR10-DVS, TET's 48x48 event model), any width.

Pooling is average pooling (max-pool has no spiking equivalent; the QCFS conversion replaces it too).
A pooling step that would shrink a map below 1x1 (small embedded inputs) is skipped.
"""

import torch
from torch import nn

from pipeline.snn.models.layers import ActivationFactory, ClassifierHead, MergeTime, conv_bn, scaled

VGG_CONFIGS: dict[str, list[int | str]] = {
    "vgg16": [64, 64, "P", 128, 128, "P", 256, 256, 256, "P", 512, 512, 512, "P", 512, 512, 512, "P"],
    "vggsnn": [64, 128, "P", 256, 256, "P", 512, 512, "P", 512, 512, "P"],
}


class FlattenHead(nn.Module):
    """VGGSNN's classifier: flatten the last feature map, one FC: `[T, N, C, H, W]` -> `[T, N, K]`."""

    def __init__(self, in_features: int, num_classes: int):
        super().__init__()
        self.fc = nn.Linear(in_features, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(x.flatten(2))


class SpikingVGG(nn.Module):
    def __init__(
        self,
        config: list[int | str],
        num_classes: int,
        in_channels: int,
        input_size: int,
        act: ActivationFactory,
        width: float,
        flatten_head: bool,
    ):
        super().__init__()
        layers: list[nn.Module] = []
        in_ch, size = in_channels, input_size
        for item in config:
            if item == "P":
                if size >= 2:
                    layers.append(MergeTime(nn.AvgPool2d(2)))
                    size //= 2
                continue
            out_ch = scaled(int(item), width)
            layers += [conv_bn(in_ch, out_ch), act()]
            in_ch = out_ch
        self.features = nn.Sequential(*layers)
        self.head: nn.Module = (
            FlattenHead(in_ch * size * size, num_classes)
            if flatten_head
            else ClassifierHead(in_ch, num_classes)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x))


def build_vgg(
    name: str,
    num_classes: int,
    in_channels: int,
    input_size: int,
    act: ActivationFactory,
    width: float = 1.0,
) -> SpikingVGG:
    return SpikingVGG(
        VGG_CONFIGS[name], num_classes, in_channels, input_size, act, width, flatten_head=(name == "vggsnn")
    )
