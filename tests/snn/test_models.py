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
    """The model registry holds the paper's eight architectures, the authors' two variants (QCFS's
    ResNet-20, SEENN's VGGSNN without average pooling) and our fast CIFAR net, each with a display name."""
    assert ALL_MODELS == sorted(PAPER_NAMES)
    assert ALL_MODELS == [
        "fastvgg",
        "resnet18",
        "resnet19",
        "resnet20",
        "resnet20_qcfs",
        "resnet34",
        "resnet8",
        "sew_resnet34",
        "vgg16",
        "vggsnn",
        "vggsnn_woap",
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


# -- the authors' architecture variants (options of build_model; defaults are the models above) ----------
VARIANTS = [  # (model, options, input size)
    ("resnet18", {"shortcut": "conv"}, 8),
    ("resnet20_qcfs", {"shortcut": "conv"}, 8),
    ("resnet19", {"shortcut": "conv"}, 8),
    ("resnet34", {"shortcut": "conv", "stem": "cifar"}, 8),
    ("resnet34", {"stem_pool": "max"}, 32),
    ("resnet18", {"stem": "imagenet", "stem_pool": "max"}, 32),
    ("sew_resnet34", {"stem_pool": "max"}, 32),
    ("sew_resnet34", {"stem": "cifar"}, 8),
    ("vgg16", {"vgg_head": "fc3"}, 8),
    ("vggsnn_woap", {}, 16),
]
VARIANT_IDS = [f"{m}-" + "-".join(f"{k}={v}" for k, v in o.items()) for m, o, _ in VARIANTS]


@pytest.mark.parametrize(
    "name,options,classes,in_ch,size,params",
    [
        # QCFS's ResNet-18: a stride-2 1x1 conv replaces AvgPool -> 1x1 conv, same weights as torchvision's
        ("resnet18", {"shortcut": "conv"}, 10, 3, 32, 11_173_962),
        # QCFS's ResNet-20 (He et al.'s depth, 1x1 conv shortcuts): by hand, stem 464 + stages
        # 14,016 + 51,648 + 205,696 + FC 650
        ("resnet20_qcfs", {"shortcut": "conv"}, 10, 3, 32, 272_474),
        # QCFS / SEENN ImageNet ResNet-34: the 3x3 CIFAR stem instead of 7x7 (64 * 3 * (49 - 9) fewer)
        ("resnet34", {"shortcut": "conv", "stem": "cifar"}, 1000, 3, 64, 21_797_672 - 64 * 3 * 40),
        # SEW's max-pooling stem has no weights
        ("sew_resnet34", {"stem_pool": "max"}, 1000, 3, 64, 21_797_672),
        # QCFS VGG-16: the one FC 512 -> 10 (5,130) becomes 512 -> 4096 -> 4096 -> 10
        ("vgg16", {"vgg_head": "fc3"}, 10, 3, 32, 14_724_042 - 5_130 + 2_101_248 + 16_781_312 + 40_970),
        # SEENN's VGGSNN without pooling: the same convs (stride 2 adds no weight), FC 512 * 3 * 3 -> 10
        ("vggsnn_woap", {}, 10, 2, 48, 9_268_746),
        # FastVGG by hand: convs 3*64*9 + 64*128*9 + 128*128*9 + 128*256*9 + 3 * 256*256*9 = 2,287,296,
        # BN 2 * (64 + 128 + 128 + 4 * 256) = 2,688, FC 256 * 10 + 10 = 2,570
        ("fastvgg", {}, 10, 3, 32, 2_292_554),
    ],
)
def test_variant_parameter_counts(name, options, classes, in_ch, size, params):
    """Full-width variants match the parameter counts of the authors' architectures."""
    model = build_model(name, classes, in_ch, size, lif_factory("triangle", 0.5), **options)
    assert sum(p.numel() for p in model.parameters()) == params


@pytest.mark.parametrize("name,options,size", VARIANTS, ids=VARIANT_IDS)
def test_variant_smoke(name, options, size):
    """Each variant trains as an LIF SNN and as a QCFS ANN, and converts to an IF SNN that runs 3 steps.
    (The 3-FC head's hidden LIF layers stay silent on random weights at threshold 1; 0.5 makes them fire.)"""
    torch.manual_seed(0)
    threshold = 0.5 if options.get("vgg_head") == "fc3" else 1.0
    lif = build_model(name, CLASSES, 3, size, lif_factory("triangle", 0.5, threshold), width=0.125, **options)
    _check_trains(lif.train(), T=2, in_ch=3, size=size)
    ann = build_model(name, CLASSES, 3, size, lambda: QCFS(4, 2.0), width=0.125, **options)
    _check_trains(ann.train(), T=1, in_ch=3, size=size)
    with torch.no_grad():
        y = convert_qcfs_to_if(ann.eval())(torch.randn(3, 2, 3, size, size))
    assert y.shape == (3, 2, CLASSES) and torch.isfinite(y).all()


def test_conv_shortcut_is_a_strided_1x1_conv():
    """`shortcut="conv"`: MergeTime(1x1 conv stride 2, BN), no pooling; the default keeps AvgPool first."""
    model = build_model("resnet18", 10, 3, 32, lambda: QCFS(), width=0.125, shortcut="conv")
    conv, norm = list(model.layers[2].shortcut.body)
    assert isinstance(conv, nn.Conv2d) and conv.kernel_size == (1, 1) and conv.stride == (2, 2)
    assert isinstance(norm, nn.BatchNorm2d)
    assert not any(isinstance(m, nn.AvgPool2d) for m in model.modules())
    default = build_model("resnet18", 10, 3, 32, lambda: QCFS(), width=0.125)
    assert isinstance(default.layers[2].shortcut.body[0], nn.AvgPool2d)
    assert model.architecture.shortcut == "conv" and default.architecture.shortcut == "avgpool"


def test_stem_options():
    """ResNet-34's stem: 7x7/2 + AvgPool by default, MaxPool with `stem_pool="max"`, 3x3/1 without pooling
    with `stem="cifar"` (the whole of stage 1 then runs at the input resolution)."""
    lif = lif_factory("triangle", 0.5)
    default = build_model("resnet34", 10, 3, 32, lif, width=0.125)
    assert isinstance(default.stem_pool.body, nn.AvgPool2d)
    maxed = build_model("resnet34", 10, 3, 32, lif, width=0.125, stem_pool="max")
    assert isinstance(maxed.stem_pool.body, nn.MaxPool2d) and maxed.stem_pool.body.stride == 2
    cifar = build_model("resnet34", 10, 3, 32, lif, width=0.125, stem="cifar")
    assert cifar.stem.body[0].kernel_size == (3, 3) and cifar.stem.body[0].stride == (1, 1)
    assert isinstance(cifar.stem_pool, nn.Identity)
    with torch.no_grad():
        assert cifar.layers[0](cifar.stem(torch.randn(1, 1, 3, 32, 32))).shape[-1] == 32
    assert (default.architecture.stem, default.architecture.stem_pool) == ("imagenet", "avg")
    assert (cifar.architecture.stem, cifar.architecture.stem_pool) == ("cifar", None)


def test_vgg16_fc3_head():
    """`vgg_head="fc3"`: flatten (512 on 32x32 inputs), FC 4096, act, FC 4096, act, FC K; two more
    activation sites (15 QCFS), so two more IF layers after conversion."""
    model = build_model("vgg16", 10, 3, 32, lambda: QCFS(), width=1.0, vgg_head="fc3")
    linears = [(m.in_features, m.out_features) for m in model.modules() if isinstance(m, nn.Linear)]
    assert linears == [(512, 4096), (4096, 4096), (4096, 10)]
    assert sum(isinstance(m, QCFS) for m in model.modules()) == 15
    small = build_model("vgg16", 10, 3, 8, lambda: QCFS(), width=0.125, vgg_head="fc3")
    assert sum(isinstance(m, IF) for m in convert_qcfs_to_if(small).modules()) == 15


def test_vggsnn_woap_layout():
    """SEENN's VGGSNN without pooling: 8 convs, stride 2 at convs 2, 4, 6, 8; on 48x48 frames the last map
    is 3x3 and the one FC reads 512 * 3 * 3 = 4,608 features."""
    model = build_model("vggsnn_woap", 10, 2, 48, lif_factory("triangle", 0.5), width=1.0)
    convs = [m for m in model.modules() if isinstance(m, nn.Conv2d)]
    assert [c.out_channels for c in convs] == [64, 128, 256, 256, 512, 512, 512, 512]
    assert [c.stride[0] for c in convs] == [1, 2, 1, 2, 1, 2, 1, 2]
    assert not any(isinstance(m, (nn.AvgPool2d, nn.MaxPool2d)) for m in model.modules())
    assert model.head.fc.in_features == 4608
    small = build_model("vggsnn_woap", 10, 2, 48, lif_factory("triangle", 0.5), width=0.125)
    assert small(torch.randn(1, 2, 2, 48, 48)).shape == (1, 2, 10)


@pytest.mark.parametrize(
    "name,options,needle",
    [
        ("vgg16", {"shortcut": "conv"}, "vgg16 has no option shortcut"),
        ("resnet18", {"vgg_head": "fc3"}, "resnet18 has no option vgg_head"),
        ("vggsnn", {"vgg_head": "fc3"}, "a VGG-16 option"),
        ("sew_resnet34", {"shortcut": "conv"}, "no shortcut option"),
        ("resnet18", {"stem_pool": "max"}, "needs the ImageNet stem"),
        ("resnet34", {"stem": "cifar", "stem_pool": "max"}, "needs the ImageNet stem"),
        ("resnet18", {"shortcut": "pool"}, "allowed are"),
    ],
)
def test_options_a_model_lacks_are_refused(name, options, needle):
    """An option the model does not have (or an unknown value) is a one-line ValueError."""
    with pytest.raises(ValueError) as err:
        build_model(name, 10, 3, 32, lambda: QCFS(), width=0.125, **options)
    assert needle in str(err.value) and "\n" not in str(err.value)


def test_params_schema_knows_the_registry():
    """config.py's model names and its option families agree with the registry (no torch in the schema)."""
    from pipeline.core.config import BASIC_RESNETS, IMAGENET_STEM_MODELS, MODEL_NAMES, RESNETS
    from pipeline.snn.models.resnet import RESNET_SHAPES

    assert sorted(MODEL_NAMES) == ALL_MODELS
    assert sorted(RESNETS) == sorted(RESNET_SHAPES)
    assert sorted(BASIC_RESNETS) == sorted(n for n in RESNET_SHAPES if not n.startswith("sew_"))
    assert sorted(IMAGENET_STEM_MODELS) == sorted(n for n, shape in RESNET_SHAPES.items() if shape[3])
