"""Tests for `pipeline/snn/models/`: every registered model builds and trains (LIF and QCFS activations),
and ResNet-19 matches the paper's Table 6 / released code, parameter count included."""

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from pipeline.snn.convert import convert_qcfs_to_if
from pipeline.snn.models import MODELS, PAPER_NAMES, build_model
from pipeline.snn.models.layers import MergeTime, scaled
from pipeline.snn.models.resnet import BasicBlock
from pipeline.snn.networks import lif_factory
from pipeline.snn.neurons import IF, LIF
from pipeline.snn.qcfs import QCFS

ALL_MODELS = MODELS.names()
# resnet34 has the ImageNet stem (7x7 stride 2 + pooling), so give it a 32x32 input; the others use 8x8
INPUT_SIZE = {"resnet34": 32}
CLASSES = 7


@pytest.fixture(autouse=True, scope="module")
def _single_thread():
    """Run these tiny models on one intra-op thread (OpenMP spin-waits make multi-threading far slower on a
    busy 2-core machine); restore the previous setting afterwards."""
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)


def _size(name: str) -> int:
    return INPUT_SIZE.get(name, 8)


def _check_trains(model: nn.Module, T: int, in_ch: int, size: int) -> None:
    """Forward [T, N=3, C, H, W] -> finite [T, N, classes]; a CE loss gives every parameter a gradient."""
    torch.manual_seed(1)
    x = torch.randn(T, 3, in_ch, size, size)
    y = model(x)
    assert y.shape == (T, 3, CLASSES)
    assert torch.isfinite(y).all()
    F.cross_entropy(y.mean(0), torch.tensor([0, 3, 6])).backward()
    missing = [n for n, p in model.named_parameters() if p.grad is None or not torch.any(p.grad != 0)]
    assert missing == []
    assert all(torch.isfinite(p.grad).all() for p in model.parameters())


def test_registry_matches_paper_names():
    """The model registry holds the paper's eight architectures, each with a display name."""
    assert ALL_MODELS == sorted(PAPER_NAMES)
    assert ALL_MODELS == [
        "resnet18",
        "resnet19",
        "resnet20",
        "resnet34",
        "resnet8",
        "sew_resnet34",
        "vgg16",
        "vggsnn",
    ]


@pytest.mark.parametrize(
    "name,classes,in_ch,size,params",
    [
        # torchvision's resnet34 and resnet18 counts; SEW changes connections, not weights (Fang et al.)
        ("resnet34", 1000, 3, 64, 21_797_672),
        ("sew_resnet34", 1000, 3, 64, 21_797_672),
        ("resnet18", 10, 3, 32, 11_173_962),
        # VGG-16's 13 conv layers (3x3, no bias) + BN + one FC 512 -> 10 after global pooling
        ("vgg16", 10, 3, 32, 14_724_042),
        # VGGSNN: 8 conv layers + BN, flatten 512 x 3 x 3 -> FC 10 on 48x48 frames
        ("vggsnn", 10, 2, 48, 9_268_746),
    ],
)
def test_paper_architectures_parameter_counts(name, classes, in_ch, size, params):
    """Full-width models match the parameter counts of their reference architectures."""
    model = build_model(name, classes, in_ch, size, lif_factory("triangle", 0.5))
    assert sum(p.numel() for p in model.parameters()) == params


@pytest.mark.parametrize("name", ALL_MODELS)
def test_lif_model_smoke(name):
    """LIF SNN (triangle, tau 0.5, width 0.125) on [2, 3, 3, H, W]: output [2, 3, K], gradients everywhere."""
    torch.manual_seed(0)
    model = build_model(name, CLASSES, 3, _size(name), lif_factory("triangle", 0.5), width=0.125)
    neurons = [m for m in model.modules() if isinstance(m, LIF)]
    assert neurons and all(m.tau == 0.5 and m.threshold == 1.0 for m in neurons)
    assert len({id(m) for m in neurons}) == len(neurons)  # a fresh neuron per activation site
    _check_trains(model.train(), T=2, in_ch=3, size=_size(name))


@pytest.mark.parametrize("name", ALL_MODELS)
def test_qcfs_model_smoke(name):
    """QCFS ANN (L 4, lambda 2, width 0.125) with T = 1: output [1, 3, K], all parameters get gradients."""
    torch.manual_seed(0)
    model = build_model(name, CLASSES, 3, _size(name), lambda: QCFS(4, 2.0), width=0.125)
    assert any(isinstance(m, QCFS) for m in model.modules())
    _check_trains(model.train(), T=1, in_ch=3, size=_size(name))


@pytest.mark.parametrize("name", ALL_MODELS)
def test_converted_model_runs_multistep(name):
    """The QCFS net converted to IF neurons (eval) maps [4, 2, 1, H, W] to finite [4, 2, K]."""
    torch.manual_seed(0)
    ann = build_model(name, CLASSES, 1, _size(name), lambda: QCFS(4, 2.0), width=0.125).eval()
    snn = convert_qcfs_to_if(ann).eval()
    assert any(isinstance(m, IF) for m in snn.modules())
    with torch.no_grad():
        y = snn(torch.randn(4, 2, 1, _size(name), _size(name)))
    assert y.shape == (4, 2, CLASSES) and torch.isfinite(y).all()


def test_vggsnn_flatten_head_on_48x48():
    """VGGSNN on 48x48 frames: four 2x2 average pools leave 3x3 maps, flattened into one FC."""
    model = build_model("vggsnn", 10, 2, 48, lif_factory("triangle", 0.5), width=0.125)
    assert model.head.fc.in_features == scaled(512, 0.125) * 3 * 3
    convs = [m for m in model.modules() if isinstance(m, nn.Conv2d)]
    widths = (64, 128, 256, 256, 512, 512, 512, 512)
    assert [c.out_channels for c in convs] == [scaled(c, 0.125) for c in widths]
    assert sum(isinstance(m, nn.AvgPool2d) for m in model.modules()) == 4
    y = model(torch.randn(1, 2, 2, 48, 48))
    assert y.shape == (1, 2, 10)


def test_vgg16_layout():
    """VGG-16: 13 3x3 conv-BN-act layers (64,64,128,128,256x3,512x6), average pooling, one FC."""
    model = build_model("vgg16", 10, 3, 32, lambda: QCFS(), width=1.0)
    convs = [m for m in model.modules() if isinstance(m, nn.Conv2d)]
    assert [c.out_channels for c in convs] == [64, 64, 128, 128, 256, 256, 256] + [512] * 6
    assert all(c.kernel_size == (3, 3) for c in convs)
    assert sum(isinstance(m, nn.AvgPool2d) for m in model.modules()) == 5
    assert not any(isinstance(m, nn.MaxPool2d) for m in model.modules())
    assert sum(isinstance(m, QCFS) for m in model.modules()) == 13
    assert [m.in_features for m in model.modules() if isinstance(m, nn.Linear)] == [512]


def _resnet19_param_count(num_classes: int, in_ch: int) -> int:
    """ResNet-19 parameters by hand: 3x3 convs (no bias), BN weight + bias, 1x1 shortcuts, one FC."""

    def conv(cin, cout, k=3):
        return cin * cout * k * k

    def bn(c):
        return 2 * c

    total = conv(in_ch, 128) + bn(128)  # stem
    for cin, cout, blocks in [(128, 128, 3), (128, 256, 3), (256, 512, 2)]:
        for b in range(blocks):
            c_in = cin if b == 0 else cout
            total += conv(c_in, cout) + bn(cout) + conv(cout, cout) + bn(cout)
            if c_in != cout:
                total += conv(c_in, cout, k=1) + bn(cout)  # AvgPool -> 1x1 conv -> BN shortcut
    return total + 512 * num_classes + num_classes  # FC 512 -> classes


def test_resnet19_structure_matches_table6_and_released_code():
    """ResNet-19 (width 1): stem 128, stages 128/256/512 x 3/3/2, AvgPool-1x1conv-BN shortcuts, FC 512->K."""
    model = build_model("resnet19", 10, 3, 32, lif_factory("dspike", 0.5), width=1.0)
    stem_conv = model.stem.body[0]
    assert isinstance(stem_conv, nn.Conv2d)
    assert (stem_conv.in_channels, stem_conv.out_channels, stem_conv.kernel_size) == (3, 128, (3, 3))
    assert stem_conv.stride == (1, 1)
    assert isinstance(model.stem_pool, nn.Identity)

    blocks = list(model.layers)
    assert all(isinstance(b, BasicBlock) for b in blocks)
    assert len(blocks) == 8
    out_ch = [b.conv2.body[0].out_channels for b in blocks]
    assert out_ch == [128] * 3 + [256] * 3 + [512] * 2
    strides = [b.conv1.body[0].stride[0] for b in blocks]
    assert strides == [1, 1, 1, 2, 1, 1, 2, 1]
    for i, b in enumerate(blocks):
        if i in (3, 6):  # first block of stages 2 and 3 downsample
            assert isinstance(b.shortcut, MergeTime)
            pool, conv, norm = list(b.shortcut.body)
            assert isinstance(pool, nn.AvgPool2d) and pool.kernel_size == 2 and pool.stride == 2
            assert isinstance(conv, nn.Conv2d) and conv.kernel_size == (1, 1) and conv.stride == (1, 1)
            assert conv.bias is None and (conv.in_channels, conv.out_channels) == (out_ch[i - 1], out_ch[i])
            assert isinstance(norm, nn.BatchNorm2d) and norm.num_features == out_ch[i]
        else:
            assert isinstance(b.shortcut, nn.Identity)

    linears = [m for m in model.modules() if isinstance(m, nn.Linear)]
    assert len(linears) == 1 and (linears[0].in_features, linears[0].out_features) == (512, 10)
    assert sum(isinstance(m, LIF) for m in model.modules()) == 1 + 2 * 8  # no extra FC + LIF (TET's variant)

    n_params = sum(p.numel() for p in model.parameters())
    assert _resnet19_param_count(10, 3) == 12_569_226
    assert n_params == 12_569_226
    # 100 classes: only the FC grows; a QCFS net adds one lambda per activation site (17)
    r19_100 = build_model("resnet19", 100, 3, 32, lif_factory("triangle", 0.5))
    assert sum(p.numel() for p in r19_100.parameters()) == _resnet19_param_count(100, 3)
    assert sum(p.numel() for p in build_model("resnet19", 10, 3, 32, lambda: QCFS(), 1.0).parameters()) == (
        12_569_226 + 17
    )
    # spatial path on CIFAR: 32 -> 32 -> 16 -> 8, global average pooling
    with torch.no_grad():
        feats = model.layers(model.stem_act(model.stem(torch.randn(1, 1, 3, 32, 32))))
    assert feats.shape == (1, 1, 512, 8, 8)


def test_table6_stage_shapes():
    """Stage channels / block counts of ResNet-8, -18, -20, -34 as in Table 6 (width 1)."""
    expected = {
        "resnet8": [16] * 1 + [32] * 1 + [64] * 1,
        "resnet18": [64] * 2 + [128] * 2 + [256] * 2 + [512] * 2,
        "resnet20": [16] * 2 + [32] * 2 + [64] * 2,
        "resnet34": [64] * 3 + [128] * 4 + [256] * 6 + [512] * 3,
    }
    for name, chans in expected.items():
        model = build_model(name, 10, 3, 32, lambda: QCFS(), width=1.0)
        assert [b.conv2.body[0].out_channels for b in model.layers] == chans, name
        assert model.head.fc.in_features == chans[-1]
    r34 = build_model("resnet34", 10, 3, 224, lambda: QCFS(), width=1.0)
    assert r34.stem.body[0].kernel_size == (7, 7) and r34.stem.body[0].stride == (2, 2)


def test_width_multiplier_scales_channels_with_floor_of_four():
    """scaled() rounds channels * width and never goes below 4 channels."""
    assert scaled(128, 0.125) == 16
    assert scaled(16, 0.125) == 4
    assert scaled(64, 0.25) == 16
    model = build_model("resnet19", 10, 3, 8, lambda: QCFS(), width=0.125)
    assert model.stem.body[0].out_channels == 16
    assert model.head.fc.in_features == 64
