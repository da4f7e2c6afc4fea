"""Spiking VGGs: VGG-16 (CIFAR tables) and VGGSNN (CIFAR10-DVS, TET's 48x48 event model), any width.

Pooling is average pooling (max-pool has no spiking equivalent; the QCFS conversion replaces it too).
A pooling step that would shrink a map below 1x1 (small embedded inputs) is skipped. `vggsnn_woap` is the
VGGSNN of SEENN's released code, without average pooling: convs 2, 4, 6 and 8 have stride 2 instead.
VGG-16's head is global average pooling + one FC (`vgg_head="gap"`) or QCFS's three FCs (`"fc3"`:
flatten, FC 4096, act, FC 4096, act, FC K; on 32x32 inputs the flattened map is 512 x 1 x 1).
"""

import torch
from torch import nn

from pipeline.snn.models.layers import (
    ActivationFactory,
    Architecture,
    ClassifierHead,
    MergeTime,
    conv_bn,
    scaled,
)

# channels of a 3x3 conv-BN-act; (channels, 2) for one with stride 2; "P" for 2x2 average pooling
VGG_CONFIGS: dict[str, list[int | str | tuple[int, int]]] = {
    "vgg16": [64, 64, "P", 128, 128, "P", 256, 256, 256, "P", 512, 512, 512, "P", 512, 512, 512, "P"],
    "vggsnn": [64, 128, "P", 256, 256, "P", 512, 512, "P", 512, 512, "P"],
    "vggsnn_woap": [64, (128, 2), 256, (256, 2), 512, (512, 2), 512, (512, 2)],
    # not the paper's: a fast-training CIFAR net laid out as airbench's (a stem conv, then three blocks of
    # conv, pool, conv), with average pooling so that it converts; 275 MMAC per 32x32 image at width 1
    "fastvgg": [64, 128, "P", 128, 256, "P", 256, 256, "P", 256],
}
FLATTEN_HEADS = ("vggsnn", "vggsnn_woap")  # VGGSNNs flatten the last map into one FC
VGG_HEADS = ("gap", "fc3")


class FlattenHead(nn.Module):
    """VGGSNN's classifier: flatten the last feature map, one FC: `[T, N, C, H, W]` -> `[T, N, K]`."""

    def __init__(self, in_features: int, num_classes: int):
        super().__init__()
        self.fc = nn.Linear(in_features, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(x.flatten(2))


class ThreeFCHead(nn.Module):
    """QCFS's VGG-16 classifier: flatten, FC -> act -> FC -> act -> FC: `[T, N, C, H, W]` -> `[T, N, K]`."""

    def __init__(self, in_features: int, hidden: int, num_classes: int, act: ActivationFactory):
        super().__init__()
        self.fc1 = nn.Linear(in_features, hidden)
        self.act1 = act()
        self.fc2 = nn.Linear(hidden, hidden)
        self.act2 = act()
        self.fc3 = nn.Linear(hidden, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc3(self.act2(self.fc2(self.act1(self.fc1(x.flatten(2))))))


class SpikingVGG(nn.Module):
    def __init__(
        self,
        config: list[int | str | tuple[int, int]],
        num_classes: int,
        in_channels: int,
        input_size: int,
        act: ActivationFactory,
        width: float,
        flatten_head: bool,
        head: str = "gap",
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
            channels, stride = item if isinstance(item, tuple) else (item, 1)
            out_ch = scaled(int(channels), width)
            layers += [conv_bn(in_ch, out_ch, stride=stride), act()]
            in_ch, size = out_ch, (size - 1) // stride + 1  # 3x3, padding 1
        self.features = nn.Sequential(*layers)
        if head == "fc3":
            self.head: nn.Module = ThreeFCHead(in_ch * size * size, scaled(4096, width), num_classes, act)
        elif flatten_head:
            self.head = FlattenHead(in_ch * size * size, num_classes)
        else:
            self.head = ClassifierHead(in_ch, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x))


def build_vgg(
    name: str,
    num_classes: int,
    in_channels: int,
    input_size: int,
    act: ActivationFactory,
    width: float = 1.0,
    *,
    vgg_head: str = "gap",
) -> SpikingVGG:
    if vgg_head not in VGG_HEADS:
        raise ValueError(f"{name}: vgg_head {vgg_head!r}: allowed are {VGG_HEADS}")
    if vgg_head != "gap" and name != "vgg16":
        raise ValueError(f"{name}: vgg_head {vgg_head!r} is a VGG-16 option (VGGSNN has its flatten head)")
    model = SpikingVGG(
        VGG_CONFIGS[name],
        num_classes,
        in_channels,
        input_size,
        act,
        width,
        flatten_head=name in FLATTEN_HEADS,
        head=vgg_head,
    )
    model.architecture = Architecture(name, vgg_head=None if name in FLATTEN_HEADS else vgg_head)
    return model
