"""The authors' released checkpoints read into our models: one key layout per released model family.

A layout names the architecture it needs (`needs`: our registry model and its options; `build_model`
records what a model is in `model.architecture`), whether the file is a QCFS ANN to convert (`conversion`)
or a directly trained SNN (`direct`, with the LIF leak our neurons must have), and how its keys map onto
ours. The map is built from our model, so it holds at any width; the released files are width 1.

Layouts (the key lists come from the authors' model code; /work/notes/checkpoints.md in the project's
research notes):

| layout | released file | our run spec |
|---|---|---|
| qcfs_vgg16 | QCFS VGG-16, CIFAR-10/100 | vgg16, vgg_head fc3 (conv biases folded into BN) |
| qcfs_resnet18 | QCFS ResNet-18, CIFAR (layout only, none released) | resnet18, shortcut conv |
| qcfs_resnet20 | QCFS ResNet-20, CIFAR (layout only) | resnet20_qcfs, shortcut conv |
| qcfs_resnet34 | ResNet-34, SEENN's ImageNet-ResNet34-t8.pth | resnet34, stem cifar, shortcut conv |
| seenn_qcfs_resnet20 | SEENN's QCFS "ResNet-20" (width 8, blocks 3/3/2) | resnet19, shortcut conv |
| sew_resnet34 | SEW-ResNet-34 (ADD), ImageNet, `ckpt['model']` | sew_resnet34, stem_pool max; LIF tau 1 |

QCFS files come with the old code's thresholds (`….up`, the block output `relu.up`) or the new code's
(`….thresh`, `act.thresh`); both are read, the style told by the keys. A threshold `[1]` becomes our 0-d
`lam`. QCFS VGG-16's convs have a bias and ours none: BN(Wx + b) with running mean m equals BN(Wx) with
running mean m - b, in eval and train mode alike, so the bias is folded into the running mean exactly.
SEW's IF neuron (threshold 1, hard reset to 0, fires at v >= 1) is our LIF with tau = 1.

Reading refuses a file that does not fit with one line (a `StageError`): the first missing or extra key,
a shape that differs, or a model that is not the architecture the layout needs.
"""

import argparse
from collections.abc import Callable, Mapping
from dataclasses import dataclass, fields
from pathlib import Path

import torch
from torch import nn

from pipeline.core.errors import StageError
from pipeline.snn.models.layers import Architecture, MergeTime
from pipeline.snn.models.resnet import RESNET_SHAPES
from pipeline.snn.neurons import LIF, SpikingNeuron
from pipeline.snn.qcfs import QCFS

BN_KEYS = ("weight", "bias", "running_mean", "running_var", "num_batches_tracked")
VGG16_STAGES = (2, 2, 3, 3, 3)  # convs per stage of QCFS's VGG-16 (a pool ends each stage)


@dataclass(frozen=True)
class Entry:
    """One tensor of the authors' file: `copy` to our key, a QCFS `threshold` ([1] -> []), or a conv
    `bias` folded into our BN running mean `ours`."""

    theirs: str
    ours: str
    kind: str = "copy"


EntryFn = Callable[[nn.Module, str], list[Entry]]  # (our model, threshold style) -> entries, authors' order


@dataclass(frozen=True)
class Layout:
    name: str
    source: str  # the released file(s), in words
    needs: Architecture  # our model and options (resolved, as `model.architecture` holds them)
    method: str  # "conversion" (a QCFS ANN; run as the converted IF SNN) or "direct" (an LIF SNN)
    entries: EntryFn
    styles: tuple[str, ...] = ("plain",)  # QCFS: ("new", "old") threshold key styles
    tau: float | None = None  # direct: the leak our LIF neurons need

    def style_of(self, keys: list[str]) -> str:
        """The threshold style of a file's keys: QCFS's old code names thresholds `….up`."""
        if "old" in self.styles and any(k.endswith(".up") for k in keys):
            return "old"
        return self.styles[0]


# --- key maps ---------------------------------------------------------------------------------------
def _copy(theirs: str, ours: str, names: tuple[str, ...]) -> list[Entry]:
    return [Entry(f"{theirs}.{n}", f"{ours}.{n}") for n in names]


def _conv_bn(theirs_conv: str, theirs_bn: str, ours: str) -> list[Entry]:
    """A bias-free conv and its BN: ours is `MergeTime(conv, bn)` at `ours` (`body.0`, `body.1`)."""
    conv = Entry(f"{theirs_conv}.weight", f"{ours}.body.0.weight")
    return [conv, *_copy(theirs_bn, f"{ours}.body.1", BN_KEYS)]


def _threshold(theirs: str, style: str, ours: str) -> Entry:
    return Entry(f"{theirs}.{'up' if style == 'old' else 'thresh'}", f"{ours}.lam", "threshold")


def _stage_positions(model: nn.Module) -> list[tuple[int, int]]:
    """(stage, index in stage) of each residual block, from the registry shape of the model."""
    blocks = RESNET_SHAPES[model.architecture.model][2]
    return [(s, j) for s, n in enumerate(blocks) for j in range(n)]


def _qcfs_resnet(model: nn.Module, style: str) -> list[Entry]:
    """QCFS's CIFAR ResNets (also its ImageNet ResNet-34): `conv1` = conv, BN, act; blocks
    `conv{s+2}_x.{j}` with `residual_function` (conv, BN, act, conv, BN), `shortcut` (1x1 conv, BN) and
    the output activation `relu` (old code) or `act` (new code); then `fc`."""
    out = [*_conv_bn("conv1.0", "conv1.1", "stem"), _threshold("conv1.2", style, "stem_act")]
    for b, (s, j) in enumerate(_stage_positions(model)):
        theirs, ours, block = f"conv{s + 2}_x.{j}", f"layers.{b}", model.layers[b]
        rf = f"{theirs}.residual_function"
        out += _conv_bn(f"{rf}.0", f"{rf}.1", f"{ours}.conv1")
        out.append(_threshold(f"{rf}.2", style, f"{ours}.act1"))
        out += _conv_bn(f"{rf}.3", f"{rf}.4", f"{ours}.conv2")
        if isinstance(block.shortcut, MergeTime):
            out += _conv_bn(f"{theirs}.shortcut.0", f"{theirs}.shortcut.1", f"{ours}.shortcut")
        out.append(_threshold(f"{theirs}.{'relu' if style == 'old' else 'act'}", style, f"{ours}.act2"))
    return out + _copy("fc", "head.fc", ("weight", "bias"))


def _is_conv_bn(m: MergeTime) -> bool:
    return isinstance(m.body, nn.Sequential) and isinstance(m.body[0], nn.Conv2d)


def _qcfs_vgg16(model: nn.Module, style: str) -> list[Entry]:
    """QCFS's VGG-16: stage s (1..5), conv i of the stage at `layer{s}.{4i}` (conv with bias, BN, act,
    dropout; pools between stages); `classifier` = flatten, FC, act, dropout, FC, act, dropout, FC."""
    convs = [f for f, m in enumerate(model.features) if isinstance(m, MergeTime) and _is_conv_bn(m)]
    positions = [(s, i) for s, n in enumerate(VGG16_STAGES, start=1) for i in range(n)]
    out = []
    for f, (s, i) in zip(convs, positions, strict=True):
        theirs, ours = f"layer{s}.{4 * i}", f"features.{f}"
        out += [
            Entry(f"{theirs}.weight", f"{ours}.body.0.weight"),
            Entry(f"{theirs}.bias", f"{ours}.body.1.running_mean", "bias"),
            *_copy(f"layer{s}.{4 * i + 1}", f"{ours}.body.1", BN_KEYS),
            _threshold(f"layer{s}.{4 * i + 2}", style, f"features.{f + 1}"),
        ]
    linear = ("weight", "bias")
    out += [*_copy("classifier.1", "head.fc1", linear), _threshold("classifier.2", style, "head.act1")]
    out += [*_copy("classifier.4", "head.fc2", linear), _threshold("classifier.5", style, "head.act2")]
    return out + _copy("classifier.7", "head.fc3", linear)


def _sew_resnet(model: nn.Module, style: str) -> list[Entry]:
    """SEW's ImageNet ResNets: `conv1`, `bn1`; blocks `layer{s+1}.{j}` with `conv1`/`conv2` and the
    downsample `downsample.0`, each `module.0` (conv) + `module.1` (BN); neurons hold no tensors; `fc`."""
    out = [Entry("conv1.weight", "stem.body.0.weight"), *_copy("bn1", "stem.body.1", BN_KEYS)]
    for b, (s, j) in enumerate(_stage_positions(model)):
        theirs, ours, block = f"layer{s + 1}.{j}", f"layers.{b}", model.layers[b]
        for conv in ("conv1", "conv2"):
            out += _conv_bn(f"{theirs}.{conv}.module.0", f"{theirs}.{conv}.module.1", f"{ours}.{conv}")
        if not isinstance(block.shortcut, nn.Identity):
            down = f"{theirs}.downsample.0.module"
            out += _conv_bn(f"{down}.0", f"{down}.1", f"{ours}.shortcut.0")
    return out + _copy("fc", "head.fc", ("weight", "bias"))


def _qcfs(name: str, source: str, needs: Architecture, entries: EntryFn) -> Layout:
    return Layout(name, source, needs, "conversion", entries, styles=("new", "old"))


LAYOUTS: dict[str, Layout] = {
    layout.name: layout
    for layout in (
        _qcfs(
            "qcfs_vgg16",
            "QCFS VGG-16 (CIFAR-10/100)",
            Architecture("vgg16", vgg_head="fc3"),
            _qcfs_vgg16,
        ),
        _qcfs(
            "qcfs_resnet18",
            "QCFS ResNet-18 (CIFAR)",
            Architecture("resnet18", shortcut="conv", stem="cifar"),
            _qcfs_resnet,
        ),
        _qcfs(
            "qcfs_resnet20",
            "QCFS ResNet-20 (CIFAR; blocks 3/3/3)",
            Architecture("resnet20_qcfs", shortcut="conv", stem="cifar"),
            _qcfs_resnet,
        ),
        _qcfs(
            "qcfs_resnet34",
            "QCFS ResNet-34 (ImageNet; SEENN's ImageNet-ResNet34-t8.pth)",
            Architecture("resnet34", shortcut="conv", stem="cifar"),
            _qcfs_resnet,
        ),
        _qcfs(
            "seenn_qcfs_resnet20",
            "SEENN's QCFS 'ResNet-20' (width 8, blocks 3/3/2: our ResNet-19's shape)",
            Architecture("resnet19", shortcut="conv", stem="cifar"),
            _qcfs_resnet,
        ),
        Layout(
            "sew_resnet34",
            "SEW-ResNet-34, ADD (ImageNet; the checkpoint's 'model')",
            Architecture("sew_resnet34", stem="imagenet", stem_pool="max"),
            "direct",
            _sew_resnet,
            tau=1.0,
        ),
    )
}


# --- reading ----------------------------------------------------------------------------------------
def layout_named(name: str) -> Layout:
    if name not in LAYOUTS:
        raise StageError(f"unknown released layout {name!r}; known: {', '.join(LAYOUTS)}")
    return LAYOUTS[name]


def check_model(layout: Layout, model: nn.Module) -> None:
    """The model is the architecture the layout needs, with QCFS activations (conversion) or LIF neurons
    of the layout's leak and threshold 1 (direct); else a one-line StageError."""
    have = getattr(model, "architecture", None)
    if not isinstance(have, Architecture):
        raise StageError(f"layout {layout.name}: the model was not built by build_model (no architecture)")
    for f in fields(Architecture):
        want, got = getattr(layout.needs, f.name), getattr(have, f.name)
        if want != got:
            raise StageError(
                f"layout {layout.name} ({layout.source}) needs {f.name} = {want!r}, "
                f"but the model ({have.model}) has {f.name} = {got!r}"
            )
    if layout.method == "conversion" and not any(isinstance(m, QCFS) for m in model.modules()):
        raise StageError(f"layout {layout.name} is a QCFS ANN: build the model with QCFS activations")
    if layout.method == "direct":
        neurons = [m for m in model.modules() if isinstance(m, SpikingNeuron)]
        fits = lambda m: isinstance(m, LIF) and m.tau == layout.tau and m.threshold == 1.0  # noqa: E731
        wrong = [m for m in neurons if not fits(m)]
        if not neurons or wrong:
            raise StageError(
                f"layout {layout.name} needs LIF neurons with tau = {layout.tau:g} and threshold 1"
                + (f", the model has {wrong[0].extra_repr()}" if wrong else ", the model has none")
            )


def _shape(t: torch.Tensor) -> list[int]:
    return list(t.shape)


def to_ours(layout: Layout, state: Mapping[str, torch.Tensor], model: nn.Module) -> dict[str, torch.Tensor]:
    """The authors' state dict as our model's: every key checked (the first missing or extra one stops it),
    every shape checked against the model."""
    entries = layout.entries(model, layout.style_of(list(state)))
    expected = [e.theirs for e in entries]
    missing = [k for k in expected if k not in state]
    extra = [k for k in state if k not in set(expected)]
    if missing or extra:
        count = len(missing) + len(extra)
        more = f" ({len(missing)} missing, {len(extra)} extra in all)" if count > 1 else ""
        first = f"lacks key {missing[0]!r}" if missing else f"has key {extra[0]!r}, unknown to it"
        raise StageError(f"released checkpoint does not fit layout {layout.name}: the file {first}{more}")
    ours_now = model.state_dict()
    out: dict[str, torch.Tensor] = {}
    for e in sorted(entries, key=lambda e: e.kind == "bias"):  # BN statistics before the biases folded in
        value = state[e.theirs]
        target = ours_now.get(e.ours)
        if target is None:
            raise StageError(f"layout {layout.name}: our model has no {e.ours!r} for {e.theirs!r}")
        if e.kind == "threshold" and value.numel() == 1:
            value = value.reshape(())
        if _shape(value) != _shape(target):
            raise StageError(
                f"layout {layout.name}: {e.theirs} has shape {_shape(value)} but our {e.ours} needs "
                f"{_shape(target)} (width and number of classes must be the file's)"
            )
        out[e.ours] = out[e.ours] - value.to(out[e.ours].dtype) if e.kind == "bias" else value
    left = [k for k in ours_now if k not in out]
    if left:
        raise StageError(f"layout {layout.name}: nothing in the file sets our {left[0]!r}")
    return out


def from_ours(layout: Layout, model: nn.Module, style: str | None = None) -> dict[str, torch.Tensor]:
    """Our model's state dict in the authors' layout (the inverse of `to_ours`; conv biases are zero):
    for tests, and to hand our weights to the authors' code."""
    ours = model.state_dict()
    out = {}
    for e in layout.entries(model, style or layout.styles[0]):
        value = ours[e.ours]
        if e.kind == "threshold":
            value = value.reshape(1)
        elif e.kind == "bias":
            value = torch.zeros_like(value)
        out[e.theirs] = value.clone()
    return out


def load_released(layout_name: str, state: Mapping[str, torch.Tensor], model: nn.Module) -> nn.Module:
    """Check the model against the layout, map the file's tensors and load them (strict); return it."""
    layout = layout_named(layout_name)
    check_model(layout, model)
    model.load_state_dict(to_ours(layout, state, model), strict=True)
    return model


def state_dict_of(obj: object, where: str) -> dict[str, torch.Tensor]:
    """The state dict inside a loaded checkpoint: the object itself, or its `model` / `state_dict` entry
    (SEW wraps it with the optimizer and the argparse namespace); a `module.` prefix on every key (a saved
    DistributedDataParallel model) is dropped."""

    def is_state(x: object) -> bool:
        return isinstance(x, Mapping) and bool(x) and all(isinstance(v, torch.Tensor) for v in x.values())

    state = obj if is_state(obj) else None
    if state is None and isinstance(obj, Mapping):
        state = next((obj[k] for k in ("model", "state_dict") if is_state(obj.get(k))), None)
    if state is None:
        raise StageError(f"{where}: holds no state dict (tensors by name, or under 'model' or 'state_dict')")
    keys = [str(k) for k in state]
    if all(k.startswith("module.") for k in keys):
        return {k.removeprefix("module."): v for k, v in zip(keys, state.values())}
    return dict(zip(keys, state.values()))


def read_checkpoint(path: Path) -> dict[str, torch.Tensor]:
    """The state dict of an authors' checkpoint file, read with `weights_only` (tensors and plain data;
    SEW's pickled argparse.Namespace allowed); one line when the file is missing or unreadable."""
    if not path.is_file():
        raise StageError(f"{path}: released checkpoint not found (the pipeline never downloads it)")
    try:
        with torch.serialization.safe_globals([argparse.Namespace]):
            obj = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # noqa: BLE001  (torch raises several kinds; all mean "not readable")
        lines = [line.strip() for line in str(err).splitlines() if line.strip()]
        reason = lines[0] if lines else type(err).__name__
        raise StageError(f"{path}: not a readable PyTorch checkpoint: {reason}") from None
    return state_dict_of(obj, str(path))
