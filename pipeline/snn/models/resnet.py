"""Spiking ResNets of the paper's appendix E / Table 6 (ResNet-8, -18, -19, -20, -34) and SEW-ResNet-34
(Fang et al. 2021, used for ImageNet in Table 3), any width.

The activation is injected (`act()` builds a fresh LIF, QCFS or IF module), so one definition serves
direct training, the QCFS ANN and the converted SNN. Architecture options (each default is the released
SEENN code's choice): `shortcut` of the downsampling blocks, `avgpool` (AvgPool -> 1x1 conv -> BN, the
released ResNet-19) or `conv` (stride-2 1x1 conv -> BN, QCFS's ResNets); `stem`, the model's own
(`auto`), `imagenet` (7x7 stride 2, then 3x3 stride-2 pooling) or `cifar` (3x3 stride 1, no pooling: QCFS
uses it for ImageNet too); `stem_pool` after an ImageNet stem, `avg` or `max`, by default (`auto`) the
model's own: `max` for SEW-ResNet-34, as SEW-ResNet's code pools the stem's spikes (a max of spikes is a
spike, so the first block's convolutions stay accumulate-only), `avg` for the others.
"""

from collections.abc import Callable
from functools import partial

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


class BasicBlock(nn.Module):
    """conv-BN-act-conv-BN plus shortcut, then act. A downsampling shortcut is AvgPool -> 1x1 conv -> BN
    (`shortcut="avgpool"`, the released SEENN ResNet-19) or a stride-2 1x1 conv -> BN (`"conv"`, QCFS)."""

    def __init__(
        self, in_ch: int, out_ch: int, stride: int, act: ActivationFactory, shortcut: str = "avgpool"
    ):
        super().__init__()
        self.conv1 = conv_bn(in_ch, out_ch, stride=stride)
        self.act1 = act()
        self.conv2 = conv_bn(out_ch, out_ch)
        self.act2 = act()
        self.shortcut: nn.Module = nn.Identity()
        if stride != 1 or in_ch != out_ch:
            if shortcut == "conv":
                self.shortcut = MergeTime(
                    nn.Conv2d(in_ch, out_ch, 1, stride=stride, bias=False), nn.BatchNorm2d(out_ch)
                )
            else:
                pool = [nn.AvgPool2d(stride, ceil_mode=True)] if stride != 1 else []
                self.shortcut = MergeTime(
                    *pool, nn.Conv2d(in_ch, out_ch, 1, bias=False), nn.BatchNorm2d(out_ch)
                )

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # [T, N, C, H, W]
        out = self.conv2(self.act1(self.conv1(x)))
        return self.act2(out + self.shortcut(x))


class SEWBlock(nn.Module):
    """Spike-element-wise block (Fang et al. 2021, ADD connection): the residual branch ends in its own
    neuron and is added to the (spiking) shortcut, so identity mappings pass spikes unchanged."""

    def __init__(self, in_ch: int, out_ch: int, stride: int, act: ActivationFactory):
        super().__init__()
        self.conv1 = conv_bn(in_ch, out_ch, stride=stride)
        self.act1 = act()
        self.conv2 = conv_bn(out_ch, out_ch)
        self.act2 = act()
        self.shortcut: nn.Module = nn.Identity()
        if stride != 1 or in_ch != out_ch:
            self.shortcut = nn.Sequential(conv_bn(in_ch, out_ch, kernel=1, stride=stride), act())

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # [T, N, C, H, W]
        return self.act2(self.conv2(self.act1(self.conv1(x)))) + self.shortcut(x)


BlockFactory = Callable[[int, int, int, ActivationFactory], nn.Module]  # (in, out, stride, act)


class SpikingResNet(nn.Module):
    """Stem conv, residual stages, global average pooling, one FC: `[T, N, C, H, W]` -> `[T, N, K]`."""

    def __init__(
        self,
        stem: int,
        channels: list[int],
        blocks: list[int],
        num_classes: int,
        in_channels: int,
        act: ActivationFactory,
        imagenet_stem: bool = False,
        block: BlockFactory = BasicBlock,
        stem_pool: str = "avg",
    ):
        super().__init__()
        if imagenet_stem:  # 7x7 stride 2, then pooling (average by default, for spikes; SEW: max)
            self.stem = MergeTime(
                nn.Conv2d(in_channels, stem, 7, stride=2, padding=3, bias=False),
                nn.BatchNorm2d(stem),
            )
            pool = nn.MaxPool2d if stem_pool == "max" else nn.AvgPool2d
            self.stem_pool: nn.Module = MergeTime(pool(3, stride=2, padding=1))
        else:
            self.stem = conv_bn(in_channels, stem)
            self.stem_pool = nn.Identity()
        self.stem_act = act()
        layers: list[nn.Module] = []
        in_ch = stem
        for i, (ch, n) in enumerate(zip(channels, blocks)):
            for j in range(n):
                stride = 2 if (i > 0 and j == 0) else 1
                layers.append(block(in_ch, ch, stride, act))
                in_ch = ch
        self.layers = nn.Sequential(*layers)
        self.head = ClassifierHead(in_ch, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.stem_pool(self.stem_act(self.stem(x)))
        return self.head(self.layers(x))


# (stem, channels per stage, blocks per stage, ImageNet stem) from paper Table 6 and the released code.
RESNET_SHAPES: dict[str, tuple[int, list[int], list[int], bool]] = {
    "resnet8": (16, [16, 32, 64], [1, 1, 1], False),
    "resnet18": (64, [64, 128, 256, 512], [2, 2, 2, 2], False),
    "resnet19": (128, [128, 256, 512], [3, 3, 2], False),
    "resnet20": (16, [16, 32, 64], [2, 2, 2], False),
    "resnet20_qcfs": (16, [16, 32, 64], [3, 3, 3], False),  # QCFS's CIFAR ResNet-20 (He et al.'s depth)
    "resnet34": (64, [64, 128, 256, 512], [3, 4, 6, 3], True),
    "sew_resnet34": (64, [64, 128, 256, 512], [3, 4, 6, 3], True),
}


SHORTCUTS = ("avgpool", "conv")
STEMS = ("auto", "imagenet", "cifar")
STEM_POOLS = ("auto", "avg", "max")


def build_resnet(
    name: str,
    num_classes: int,
    in_channels: int,
    act: ActivationFactory,
    width: float = 1.0,
    *,
    shortcut: str = "avgpool",
    stem: str = "auto",
    stem_pool: str = "auto",
) -> SpikingResNet:
    stem_ch, channels, blocks, imagenet_stem = RESNET_SHAPES[name]
    sew = name.startswith("sew_")
    if shortcut not in SHORTCUTS or stem not in STEMS or stem_pool not in STEM_POOLS:
        raise ValueError(
            f"{name}: shortcut {shortcut!r}, stem {stem!r}, stem_pool {stem_pool!r}: allowed are "
            f"shortcut {SHORTCUTS}, stem {STEMS}, stem_pool {STEM_POOLS}"
        )
    if sew and shortcut != "avgpool":
        raise ValueError(f"{name}: its shortcut is SEW's own (conv-BN-neuron); no shortcut option")
    if stem != "auto":
        imagenet_stem = stem == "imagenet"
    if stem_pool == "auto":
        stem_pool = "max" if sew and imagenet_stem else "avg"
    if stem_pool != "avg" and not imagenet_stem:
        raise ValueError(
            f"{name}: stem_pool {stem_pool!r} needs the ImageNet stem (the CIFAR one has no pool)"
        )
    model = SpikingResNet(
        scaled(stem_ch, width),
        [scaled(c, width) for c in channels],
        blocks,
        num_classes,
        in_channels,
        act,
        imagenet_stem,
        SEWBlock if sew else partial(BasicBlock, shortcut=shortcut),
        stem_pool,
    )
    model.architecture = Architecture(
        name,
        shortcut=None if sew else shortcut,
        stem="imagenet" if imagenet_stem else "cifar",
        stem_pool=stem_pool if imagenet_stem else None,
    )
    return model
