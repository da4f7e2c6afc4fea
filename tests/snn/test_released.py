"""Tests for `pipeline/snn/released.py`: every released key layout is the authors' own (keys, shapes and
order, at width 1), our weights go through each layout and back unchanged (outputs identical, before and
after conversion), the QCFS VGG-16 conv bias folds into BN exactly, and a file or model that does not fit
is refused with one line. Authors' state dicts are generated from our models with the inverse map;
nothing is downloaded."""

import argparse
import hashlib

import pytest
import torch
from torch import nn

from pipeline.core.config import RELEASED_LAYOUTS
from pipeline.core.errors import StageError
from pipeline.snn.convert import convert_qcfs_to_if
from pipeline.snn.models import build_model
from pipeline.snn.networks import lif_factory
from pipeline.snn.qcfs import QCFS
from pipeline.snn.released import LAYOUTS, from_ours, load_released, read_checkpoint, state_dict_of, to_ours

CLASSES = 7


def options_for(layout_name: str) -> dict[str, str]:
    """The build_model options a layout needs (its `needs`, without the resolved-only values)."""
    needs = LAYOUTS[layout_name].needs
    options = {"shortcut": needs.shortcut, "stem": needs.stem, "stem_pool": needs.stem_pool}
    options["vgg_head"] = needs.vgg_head
    return {k: v for k, v in options.items() if v is not None}


def activation_for(layout_name: str):
    layout = LAYOUTS[layout_name]
    if layout.method == "conversion":
        return lambda: QCFS(4, 1.0)
    return lif_factory("triangle", layout.tau)


def model_for(layout_name: str, width: float = 0.125, classes: int = CLASSES, size: int = 16, **override):
    needs = LAYOUTS[layout_name].needs
    options = {**options_for(layout_name), **override}
    return build_model(needs.model, classes, 3, size, activation_for(layout_name), width, **options).eval()


def randomised(model: nn.Module, seed: int = 0) -> nn.Module:
    """Random weights, BN statistics and QCFS lambdas, so that a misplaced tensor changes the output."""
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for key, value in model.state_dict().items():
            if not value.dtype.is_floating_point:
                continue
            if key.endswith(("running_var", ".lam")):
                value.copy_(0.5 + 1.5 * torch.rand(value.shape, generator=gen))
            else:
                value.copy_(0.3 * torch.randn(value.shape, generator=gen))
    return model


CASES = [(name, style) for name, layout in LAYOUTS.items() for style in layout.styles]


def test_layout_names_match_the_params_schema():
    """params.yaml's `released.<run>.layout` choices are exactly the layouts the importer knows."""
    assert RELEASED_LAYOUTS == tuple(LAYOUTS)


# (layout, threshold style, classes, number of keys, sha256 prefix of the "key [shape]" lines in order)
# The digests are those of the key lists dumped from the authors' own model code (QCFS old and new code,
# SEENN's copy, SEW's imagenet/sew_resnet.py) at width 1.
AUTHORS_KEYS = [
    ("qcfs_vgg16", "new", 10, 112, "9d210de66019bf30"),
    ("qcfs_vgg16", "old", 100, 112, "af5aef1b2ba2088a"),
    ("qcfs_resnet18", "new", 10, 139, "e0d011b8db369629"),
    ("qcfs_resnet18", "old", 100, 139, "3580135e37861801"),
    ("qcfs_resnet20", "new", 100, 147, "977a15dca8de82ad"),
    ("qcfs_resnet20", "old", 10, 147, "99577604cf10d879"),
    ("qcfs_resnet34", "new", 1000, 251, "958699bbbe42d104"),
    ("qcfs_resnet34", "old", 1000, 251, "527d111f15ef44d1"),  # SEENN's ImageNet-ResNet34-t8.pth
    ("seenn_qcfs_resnet20", "old", 100, 133, "829c8422a04d7e1f"),
    ("sew_resnet34", "plain", 1000, 218, "b251d239c80eacaa"),
]


@pytest.mark.parametrize(
    "layout,style,classes,count,digest", AUTHORS_KEYS, ids=[f"{c[0]}-{c[1]}" for c in AUTHORS_KEYS]
)
def test_layouts_reproduce_the_authors_key_lists(layout, style, classes, count, digest):
    """Our full-width model in the authors' layout has their keys, shapes and key order exactly (models
    built on the meta device: shapes only, no memory)."""
    needs, size = LAYOUTS[layout].needs, 224 if classes == 1000 else 32  # VGG-16: flatten 512 x 1 x 1
    with torch.device("meta"):
        model = build_model(needs.model, classes, 3, size, activation_for(layout), 1.0, **options_for(layout))
    lines = [f"{k} {list(v.shape)}" for k, v in from_ours(LAYOUTS[layout], model, style).items()]
    assert len(lines) == count
    assert hashlib.sha256("\n".join(lines).encode()).hexdigest()[:16] == digest


@pytest.mark.parametrize("layout,style", CASES, ids=[f"{n}-{s}" for n, s in CASES])
def test_our_weights_through_the_authors_layout_and_back_are_unchanged(layout, style):
    """ours -> authors' layout -> ours: every tensor equal, outputs identical; a QCFS ANN also converts to
    the same IF SNN (per-step outputs identical), a SEW net runs the same LIF (tau 1) steps."""
    original = randomised(model_for(layout))
    state = from_ours(LAYOUTS[layout], original, style)
    if style == "old":
        assert not any("thresh" in k for k in state) and any(k.endswith(".up") for k in state)
    elif style == "new":
        assert not any(k.endswith(".up") for k in state) and any(k.endswith(".thresh") for k in state)
    imported = load_released(layout, state, model_for(layout))
    ours, theirs = original.state_dict(), imported.state_dict()
    assert list(ours) == list(theirs) and all(torch.equal(ours[k], theirs[k]) for k in ours)
    x = torch.randn(4, 2, 3, 16, 16, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        if LAYOUTS[layout].method == "conversion":
            assert torch.equal(original(x[:1]), imported(x[:1]))
            reference = convert_qcfs_to_if(original)(x)
            assert torch.equal(reference, convert_qcfs_to_if(imported)(x)) and reference.abs().sum() > 0
        else:
            reference = original(x)
            assert torch.equal(reference, imported(x)) and reference.abs().sum() > 0


@pytest.mark.parametrize("style", ["new", "old"])
def test_thresholds_are_reshaped(style):
    """The authors' thresholds are `[1]` (`….thresh` new code, `….up` old code); ours 0-d `lam`."""
    model = randomised(model_for("qcfs_resnet20", size=8))
    state = from_ours(LAYOUTS["qcfs_resnet20"], model, style)
    name = "conv2_x.1.act.thresh" if style == "new" else "conv2_x.1.relu.up"
    assert state[name].shape == (1,) and state[name].item() == model.layers[1].act2.lam.item()
    mapped = to_ours(LAYOUTS["qcfs_resnet20"], state, model_for("qcfs_resnet20", size=8))
    assert mapped["layers.1.act2.lam"].shape == () and mapped["stem_act.lam"].shape == ()


def test_vgg16_conv_bias_folds_into_the_bn_running_mean():
    """QCFS VGG-16's convs have biases: BN(Wx + b) with running mean m + b is BN(Wx) with mean m, so a file
    with biases gives the same outputs (eval: BN statistics; train: batch statistics) as one without."""
    original = randomised(model_for("qcfs_vgg16", size=32))
    state = from_ours(LAYOUTS["qcfs_vgg16"], original, "new")
    gen = torch.Generator().manual_seed(2)
    for key in [k for k in state if k.startswith("layer") and k.endswith(".bias")]:
        stage, index = key.split(".")[:2]
        if int(index) % 4 == 0:  # a conv's bias (BNs sit at 4i + 1)
            bias = torch.randn(state[key].shape, generator=gen)
            state[key] = bias
            bn_mean = f"{stage}.{int(index) + 1}.running_mean"
            state[bn_mean] = state[bn_mean] + bias
    imported = load_released("qcfs_vgg16", state, model_for("qcfs_vgg16", size=32))
    x = torch.randn(1, 3, 3, 32, 32, generator=gen)
    with torch.no_grad():
        assert torch.allclose(original(x), imported(x), atol=1e-4)
        assert torch.allclose(original.train()(x), imported.train()(x), atol=1e-4)


# -- one-line refusals ---------------------------------------------------------------------------------
def refusal(layout: str, state: dict, model: nn.Module) -> str:
    with pytest.raises(StageError) as err:
        load_released(layout, state, model)
    message = str(err.value)
    assert "\n" not in message
    return message


def test_a_missing_key_is_named():
    model = model_for("qcfs_resnet18")
    state = from_ours(LAYOUTS["qcfs_resnet18"], model)
    del state["conv4_x.0.shortcut.1.running_var"]
    message = refusal("qcfs_resnet18", state, model)
    assert "layout qcfs_resnet18" in message and "lacks key 'conv4_x.0.shortcut.1.running_var'" in message


def test_an_extra_key_is_named():
    model = model_for("sew_resnet34")
    state = {**from_ours(LAYOUTS["sew_resnet34"], model), "fc2.weight": torch.zeros(3, 3)}
    message = refusal("sew_resnet34", state, model)
    assert "layout sew_resnet34" in message and "has key 'fc2.weight'" in message


def test_an_old_style_file_with_a_new_style_key_is_refused():
    """Thresholds of both codes in one file: the file reads as old-style, the `.thresh` key is extra."""
    model = model_for("qcfs_resnet18")
    state = from_ours(LAYOUTS["qcfs_resnet18"], model, "old")
    state["conv1.2.thresh"] = state.pop("conv1.2.up")
    message = refusal("qcfs_resnet18", state, model)
    assert "lacks key 'conv1.2.up'" in message and "(1 missing, 1 extra in all)" in message


@pytest.mark.parametrize(
    "layout,model_name,options,needle",
    [
        ("qcfs_resnet18", "resnet18", {}, "needs shortcut = 'conv', but the model (resnet18) has shortcut"),
        ("qcfs_resnet18", "resnet20_qcfs", {"shortcut": "conv"}, "needs model = 'resnet18'"),
        ("qcfs_resnet20", "resnet20", {"shortcut": "conv"}, "needs model = 'resnet20_qcfs'"),
        ("qcfs_resnet34", "resnet34", {"shortcut": "conv"}, "needs stem = 'cifar'"),
        ("qcfs_vgg16", "vgg16", {}, "needs vgg_head = 'fc3'"),
        ("sew_resnet34", "sew_resnet34", {"stem_pool": "avg"}, "needs stem_pool = 'max'"),
    ],
)
def test_a_layout_loaded_into_the_wrong_architecture_is_refused(layout, model_name, options, needle):
    right = model_for(layout)
    state = from_ours(LAYOUTS[layout], right)
    wrong = build_model(model_name, CLASSES, 3, 16, activation_for(layout), 0.125, **options)
    assert needle in refusal(layout, state, wrong)


def test_wrong_neurons_are_refused():
    """A QCFS layout needs the QCFS ANN; SEW needs LIF neurons with tau 1 (SEW's IF), threshold 1."""
    state = from_ours(LAYOUTS["qcfs_resnet18"], model_for("qcfs_resnet18"))
    lif = build_model("resnet18", CLASSES, 3, 16, lif_factory("triangle", 0.5), 0.125, shortcut="conv")
    assert "is a QCFS ANN" in refusal("qcfs_resnet18", state, lif)
    state = from_ours(LAYOUTS["sew_resnet34"], model_for("sew_resnet34"))
    leaky = build_model("sew_resnet34", CLASSES, 3, 16, lif_factory("triangle", 0.5), 0.125, stem_pool="max")
    assert "tau = 1 and threshold 1, the model has tau=0.5" in refusal("sew_resnet34", state, leaky)


def test_a_shape_that_differs_is_named():
    """A file of another width (or number of classes) than the model: the first tensor that differs."""
    state = from_ours(LAYOUTS["qcfs_resnet20"], model_for("qcfs_resnet20", width=0.5))
    message = refusal("qcfs_resnet20", state, model_for("qcfs_resnet20", width=0.25))
    assert "conv1.0.weight has shape [8, 3, 3, 3] but our stem.body.0.weight needs [4, 3, 3, 3]" in message
    state = from_ours(LAYOUTS["qcfs_resnet20"], model_for("qcfs_resnet20", classes=100))
    message = refusal("qcfs_resnet20", state, model_for("qcfs_resnet20"))
    assert "fc.weight has shape [100, 8] but our head.fc.weight needs [7, 8]" in message


def test_an_unknown_layout_is_refused():
    with pytest.raises(StageError, match="unknown released layout 'qcfs_resnet50'; known: qcfs_vgg16"):
        load_released("qcfs_resnet50", {}, model_for("qcfs_resnet18"))


# -- reading the files -------------------------------------------------------------------------------
def test_read_a_plain_state_dict(tmp_path):
    model = randomised(model_for("qcfs_resnet20", size=8))
    state = from_ours(LAYOUTS["qcfs_resnet20"], model, "old")
    torch.save(state, tmp_path / "resnet20_L[4].pth")
    read = read_checkpoint(tmp_path / "resnet20_L[4].pth")
    assert list(read) == list(state) and all(torch.equal(read[k], state[k]) for k in state)


def test_read_sew_wrapped_checkpoint_with_its_argparse_namespace(tmp_path):
    """SEW saves {'model', 'optimizer', 'lr_scheduler', 'epoch', 'args': argparse.Namespace, ...}; the
    namespace is allowed through torch's weights-only unpickler, the state dict is `model`."""
    model = randomised(model_for("sew_resnet34"))
    state = from_ours(LAYOUTS["sew_resnet34"], model)
    wrapped = {
        "model": state,
        "optimizer": {"state": {}, "param_groups": [{"lr": 0.1, "params": [0, 1]}]},
        "lr_scheduler": {"last_epoch": 319},
        "epoch": 319,
        "args": argparse.Namespace(model="sew_resnet34", connect_f="ADD", T=4, lr=0.1),
        "max_test_acc1": 67.04,
    }
    torch.save(wrapped, tmp_path / "sew34_checkpoint_319.pth")
    state = read_checkpoint(tmp_path / "sew34_checkpoint_319.pth")
    imported = load_released("sew_resnet34", state, model_for("sew_resnet34"))
    assert all(torch.equal(imported.state_dict()[k], v) for k, v in model.state_dict().items())


def test_module_prefix_is_stripped_only_when_every_key_has_it():
    plain = from_ours(LAYOUTS["qcfs_resnet18"], model_for("qcfs_resnet18"))
    state = {f"module.{k}": v for k, v in plain.items()}
    assert not any(k.startswith("module.") for k in state_dict_of(state, "f"))
    assert not any(k.startswith("module.") for k in state_dict_of({"state_dict": state}, "f"))
    state["fc.extra"] = torch.zeros(1)
    assert "module.conv1.0.weight" in state_dict_of(state, "f")


def test_unreadable_files_fail_in_one_line(tmp_path):
    with pytest.raises(StageError, match="released checkpoint not found"):
        read_checkpoint(tmp_path / "absent.pth")
    (tmp_path / "junk.pth").write_bytes(b"not a checkpoint")
    with pytest.raises(StageError) as err:
        read_checkpoint(tmp_path / "junk.pth")
    assert "not a readable PyTorch checkpoint" in str(err.value) and "\n" not in str(err.value)
    torch.save({"epoch": 3, "notes": "no tensors"}, tmp_path / "empty.pth")
    with pytest.raises(StageError, match="holds no state dict"):
        read_checkpoint(tmp_path / "empty.pth")
    torch.save({"model": {"w": torch.zeros(1)}, "thing": torch.nn.Identity()}, tmp_path / "module.pth")
    with pytest.raises(StageError) as err:  # a pickled module is not let through the weights-only loader
        read_checkpoint(tmp_path / "module.pth")
    assert "not a readable PyTorch checkpoint" in str(err.value) and "\n" not in str(err.value)
