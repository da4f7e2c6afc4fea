"""SEW-ResNet-34 pools its stem's spikes with MAX pooling by default, as SEW-ResNet's own code does, so the
energy count charges dense MACs only on the stem convolution (analog pixels); average pooling turns the
spikes into fractions and makes five more convolutions multiply."""

import torch
from torch import nn

from pipeline.data.prepared import DatasetInfo
from pipeline.hardware.energy import measure_activity
from pipeline.snn.models import build_model
from pipeline.snn.networks import lif_factory

INFO = DatasetInfo("random", "random", "static", 10, 3, 32)


def sew(**options) -> nn.Module:
    torch.manual_seed(0)
    return build_model("sew_resnet34", 10, 3, 32, lif_factory("triangle", 0.5), width=0.125, **options)


def test_the_default_stem_pool_is_max():
    model = sew()
    assert isinstance(model.stem_pool.body, nn.MaxPool2d)
    assert model.architecture.stem_pool == "max"
    assert isinstance(sew(stem_pool="avg").stem_pool.body, nn.AvgPool2d)
    # the other ImageNet-stem ResNet keeps average pooling
    plain = build_model("resnet34", 10, 3, 32, lif_factory("triangle", 0.5), width=0.125)
    assert isinstance(plain.stem_pool.body, nn.AvgPool2d)


def test_max_pooling_leaves_only_the_stem_as_macs():
    x = torch.rand(4, 3, 32, 32, generator=torch.Generator().manual_seed(0))
    maxed = measure_activity(sew(), x, INFO, 2, batch_size=4)
    averaged = measure_activity(sew(stem_pool="avg"), x, INFO, 2, batch_size=4)
    assert len(maxed) == len(averaged) == 37  # stem, 32 block convs, 3 downsampling convs, fc
    assert [a.name for a in maxed if a.input_kind == "analog"] == ["stem.body.0"]
    analog = [a.name for a in averaged if a.input_kind == "analog"]
    assert analog == [
        "stem.body.0",
        "layers.0.conv1.body.0",  # the three stage-1 blocks: the ADD carries the pooled fractions along
        "layers.1.conv1.body.0",
        "layers.2.conv1.body.0",
        "layers.3.conv1.body.0",  # and into the first stage-2 block and its downsampling shortcut
        "layers.3.shortcut.0.body.0",
    ]
