"""Model registry: every architecture is built by name with one signature.

`build_model(name, num_classes, in_channels, input_size, act, width)` returns a module mapping
`[T, N, C, H, W]` to per-timestep logits `[T, N, num_classes]`; `act` decides what it is (LIF for
direct training, QCFS for the ANN to convert, IF after conversion). Keyword options pick the authors'
variants (ResNet `shortcut`, `stem`, `stem_pool`; VGG-16 `vgg_head`); every default is the model as
before, and the built model records what it is in `model.architecture`.
"""

from functools import partial

from torch import nn

from pipeline.snn.models.layers import ActivationFactory, Architecture
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
    "resnet20_qcfs": "ResNet-20",
    "resnet34": "ResNet-34",
    "sew_resnet34": "SEW-ResNet-34",
    "vgg16": "VGG-16",
    "vggsnn": "VGGSNN",
    "vggsnn_woap": "VGGSNN",
    "fastvgg": "FastVGG",
}


def _resnet(name, num_classes, in_channels, input_size, act, width, **options):
    return build_resnet(name, num_classes, in_channels, act, width, **options)


for _name in RESNET_SHAPES:
    MODELS.register(_name)(partial(_resnet, _name))
for _name in VGG_CONFIGS:
    MODELS.register(_name)(partial(build_vgg, _name))


RESNET_OPTIONS = ("shortcut", "stem", "stem_pool")
VGG_OPTIONS = ("vgg_head",)
DEFAULT_OPTIONS = {"shortcut": "avgpool", "stem": "auto", "stem_pool": "auto", "vgg_head": "gap"}
# values that leave a model without the option as it is ("avg": params' stem_pool for every model)
NEUTRAL_OPTIONS = {
    "shortcut": ("avgpool",),
    "stem": ("auto",),
    "stem_pool": ("auto", "avg"),
    "vgg_head": ("gap",),
}


def build_model(
    name: str,
    num_classes: int,
    in_channels: int,
    input_size: int,
    act: ActivationFactory,
    width: float = 1.0,
    *,
    shortcut: str = "avgpool",
    stem: str = "auto",
    stem_pool: str = "auto",  # the model's own: max for sew_resnet34 (SEW's code), avg otherwise
    vgg_head: str = "gap",
) -> nn.Module:
    """The registered model `name`; an option the model does not have must keep its default
    (ValueError naming it otherwise)."""
    builder = MODELS.get(name)
    given = {"shortcut": shortcut, "stem": stem, "stem_pool": stem_pool, "vgg_head": vgg_head}
    own = RESNET_OPTIONS if name in RESNET_SHAPES else VGG_OPTIONS
    for key, value in given.items():
        if key not in own and value not in NEUTRAL_OPTIONS[key]:
            raise ValueError(f"{name} has no option {key} (got {value!r}; it applies to other models)")
    model = builder(num_classes, in_channels, input_size, act, width, **{k: given[k] for k in own})
    if not isinstance(getattr(model, "architecture", None), Architecture):
        model.architecture = Architecture(name)
    return model
