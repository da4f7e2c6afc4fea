"""Model registry: every architecture is built by name with one signature.

`build_model(name, num_classes, in_channels, input_size, act, width)` returns a module mapping
`[T, N, C, H, W]` to per-timestep logits `[T, N, num_classes]`; `act` decides what it is (LIF for
direct training, QCFS for the ANN to convert, IF after conversion).
"""

from functools import partial

from torch import nn

from pipeline.snn.models.layers import ActivationFactory
from pipeline.snn.models.resnet import RESNET_SHAPES, build_resnet
from pipeline.snn.models.vgg import VGG_CONFIGS, build_vgg
from pipeline.core.registry import Registry

MODELS: Registry = Registry("model")

# Display names the paper uses, for tables and figures.
PAPER_NAMES = {
    "resnet8": "ResNet-8",
    "resnet18": "ResNet-18",
    "resnet19": "ResNet-19",
    "resnet20": "ResNet-20",
    "resnet34": "ResNet-34",
    "sew_resnet34": "SEW-ResNet-34",
    "vgg16": "VGG-16",
    "vggsnn": "VGGSNN",
}


def _resnet(name, num_classes, in_channels, input_size, act, width):
    return build_resnet(name, num_classes, in_channels, act, width)


for _name in RESNET_SHAPES:
    MODELS.register(_name)(partial(_resnet, _name))
for _name in VGG_CONFIGS:
    MODELS.register(_name)(partial(build_vgg, _name))


def build_model(
    name: str, num_classes: int, in_channels: int, input_size: int, act: ActivationFactory, width: float = 1.0
) -> nn.Module:
    return MODELS.get(name)(num_classes, in_channels, input_size, act, width)
