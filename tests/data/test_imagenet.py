"""The ImageNet image-folder index (data stage) and its streaming feed, on a tiny synthetic tree.

The tree is written into `tmp_path`: 3 classes, 4 training and 2 validation images each, 40x50 random
pixels (one training image is a PNG named .JPEG and one is greyscale, as in the real ILSVRC2012 set).
"""

import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
import yaml
from PIL import Image
from typer.testing import CliRunner

from pipeline.core.config import ImageNetData
from pipeline.data import prepare_imagenet
from pipeline.data.imagenet import IMAGENET_MEAN, IMAGENET_STD, check_image, imagenet_feed, index_imagenet
from pipeline.data.prepared import load_prepared
from pipeline.data.feed import Shard
from stages.cli import app

CLASSES = ("n01440764", "n01443537", "n01484850")
TRAIN, VAL = 4, 2
runner = CliRunner()


def _write_tree(root: Path) -> Path:
    rng = np.random.default_rng(0)
    for split, per_class in (("train", TRAIN), ("val", VAL)):
        for cls in CLASSES:
            folder = root / split / cls
            folder.mkdir(parents=True)
            for i in range(per_class):
                pixels = rng.integers(0, 256, (40, 50, 3), dtype=np.uint8)
                Image.fromarray(pixels).save(folder / f"{cls}_{i}.JPEG", format="JPEG")
    Image.fromarray(rng.integers(0, 256, (50, 40, 3), dtype=np.uint8)).save(
        root / "train" / CLASSES[1] / f"{CLASSES[1]}_1.JPEG", format="PNG"
    )
    Image.fromarray(rng.integers(0, 256, (40, 50), dtype=np.uint8)).save(
        root / "train" / CLASSES[2] / f"{CLASSES[2]}_2.JPEG", format="JPEG"
    )
    (root / "train" / CLASSES[0] / "notes.txt").write_text("not an image")  # ignored
    return root


@pytest.fixture(scope="module")
def tree(tmp_path_factory) -> Path:
    return _write_tree(tmp_path_factory.mktemp("imagenet"))


@pytest.fixture(scope="module")
def data(tree):
    return index_imagenet(tree)


def _run_stage(tmp_path: Path, root: Path, **settings):
    params = tmp_path / "params.yaml"
    params.write_text(yaml.safe_dump({"seed": 0, "data": {"imagenet": {"root": str(root), **settings}}}))
    out = tmp_path / "out"
    return runner.invoke(app, ["data", "imagenet", "--out", str(out), "--params", str(params)]), out


# ------------------------------------------------------------------------------------ index and stage


def test_stage_writes_index_that_loads_back(tree, tmp_path):
    result, out = _run_stage(tmp_path, tree)
    assert result.exit_code == 0, result.output
    assert "data: ImageNet: 9 train / 6 test / 3 validation, input (3, 224, 224), 3 classes" in result.output
    assert sorted(p.name for p in out.iterdir()) == ["index.npz", "info.json"]

    loaded = load_prepared(out)
    info = loaded.info
    assert (info.name, info.kind, info.num_classes) == ("imagenet", "static", 3)
    assert (info.in_channels, info.input_size) == (3, 224)
    assert info.mean == IMAGENET_MEAN and info.std == IMAGENET_STD
    assert loaded.x_train.shape == (0,) and loaded.x_test.shape == (0,)
    assert loaded.y_train.dtype == np.int64 and loaded.y_test.dtype == np.int64
    # the default val_fraction (1 %) sets one training image of each class aside as validation data
    np.testing.assert_array_equal(loaded.y_train, np.repeat(np.arange(3), TRAIN - 1))
    np.testing.assert_array_equal(loaded.y_val, np.arange(3))
    np.testing.assert_array_equal(loaded.y_test, np.repeat(np.arange(3), VAL))
    s = loaded.stream
    assert s.root == str(tree) and s.classes == CLASSES
    assert all(p.decode().startswith("train/") for p in s.validation) and not set(s.validation) & set(s.train)
    assert s.val[-1].decode() == f"val/{CLASSES[2]}/{CLASSES[2]}_1.JPEG"
    assert all((tree / p.decode()).is_file() for p in np.concatenate([s.train, s.val, s.validation]))
    labels = imagenet_feed(loaded, "validation", 2, False, "cpu", workers=0).labels
    np.testing.assert_array_equal(labels, loaded.y_val)
    (tmp_path / "plain").mkdir()
    plain, _ = _run_stage(tmp_path / "plain", tree, val_fraction=0.0)
    assert "12 train / 6 test," in plain.output and load_prepared(tmp_path / "plain" / "out").y_val is None
    assert json.loads((out / "info.json").read_text())["stream"]["classes"] == list(CLASSES)


def _remove_val_class(root: Path) -> str:
    shutil.rmtree(root / "val" / CLASSES[1])
    return str(root / "val" / CLASSES[1])


def _truncate(root: Path) -> str:
    path = root / "train" / CLASSES[2] / f"{CLASSES[2]}_3.JPEG"
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    return str(path)


def _flatten_val(root: Path) -> str:
    for cls in CLASSES:
        for f in (root / "val" / cls).iterdir():
            f.rename(root / "val" / f.name)
        (root / "val" / cls).rmdir()
    return "flat ILSVRC2012 layout"


def _empty_class(root: Path) -> str:
    for f in (root / "val" / CLASSES[0]).iterdir():
        f.unlink()
    return f"{root / 'val' / CLASSES[0]} holds no images"


@pytest.mark.parametrize(
    "damage,also",
    [
        (lambda root: shutil.rmtree(root) or str(root), "train/<wnid>/*.JPEG"),
        (_remove_val_class, "has a folder in"),
        (_truncate, "not a readable image"),
        (_flatten_val, "valprep.sh"),
        (_empty_class, ""),
    ],
    ids=["missing-root", "missing-val-class", "truncated", "flat-val", "empty-class"],
)
def test_bad_tree_fails_with_one_line_and_writes_nothing(tmp_path, damage, also):
    root = _write_tree(tmp_path / "imagenet")
    needle = damage(root)
    result, out = _run_stage(tmp_path, root)
    assert result.exit_code == 2
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1 and needle in lines[0] and also in lines[0], result.output
    assert not out.exists()


def test_subset_keys_index_first_k_per_class(tree):
    config = ImageNetData(root=str(tree), train_subset_per_class=2, val_subset_per_class=1)
    small = prepare_imagenet(config, seed=0)
    np.testing.assert_array_equal(small.y_train, [0, 0, 1, 1, 2, 2])
    np.testing.assert_array_equal(small.y_test, [0, 1, 2])
    first = [f"train/{CLASSES[0]}/{CLASSES[0]}_{i}.JPEG" for i in range(2)]
    assert [p.decode() for p in small.stream.train[:2]] == first
    with pytest.raises(ValueError, match="fewer than the 3 requested"):
        index_imagenet(tree, val_per_class=3)


def test_jpeg_with_trailing_bytes_is_decoded_and_accepted(tmp_path):
    path = tmp_path / "a.JPEG"
    Image.fromarray(np.zeros((8, 8, 3), dtype=np.uint8)).save(path, format="JPEG")
    path.write_bytes(path.read_bytes() + b"\0" * 10)  # no end marker at the very end: decoded instead
    check_image(str(path))
    path.write_bytes(b"not an image at all")
    with pytest.raises(ValueError, match=f"{path} is not a readable image"):
        check_image(str(path), full=True)


# ------------------------------------------------------------------------------------------- the feed


def _pass(feed, seed: int | None):
    generator = None if seed is None else torch.Generator().manual_seed(seed)
    return [(x.clone(), y.clone()) for x, y in feed.batches(generator)]


def test_feed_shapes_dtypes_and_eval_order(data):
    feed = imagenet_feed(data, "train", batch_size=5, train=True, device="cpu", workers=0)
    assert len(feed) == 3
    batches = _pass(feed, 0)
    assert [tuple(x.shape) for x, _ in batches] == [(5, 3, 224, 224)] * 2 + [(2, 3, 224, 224)]
    assert all(x.dtype == torch.uint8 and y.dtype == torch.int64 for x, y in batches)
    assert sorted(torch.cat([y for _, y in batches]).tolist()) == sorted(data.y_train.tolist())

    val = imagenet_feed(data, "val", batch_size=4, train=False, device="cpu", workers=0)
    first, second = _pass(val, None), _pass(val, None)
    assert torch.cat([y for _, y in first]).tolist() == data.y_test.tolist()  # in order
    assert all(torch.equal(a[0], b[0]) for a, b in zip(first, second))  # eval transform: no randomness


def test_same_generator_same_batches_any_worker_count(data):
    feed = imagenet_feed(data, "train", batch_size=5, train=True, device="cpu", workers=0)
    a, b = _pass(feed, 3), _pass(feed, 3)
    assert all(torch.equal(xa, xb) and torch.equal(ya, yb) for (xa, ya), (xb, yb) in zip(a, b))
    other = _pass(feed, 4)
    assert not torch.equal(a[0][0], other[0][0])
    parallel = _pass(imagenet_feed(data, "train", batch_size=5, train=True, device="cpu", workers=2), 3)
    assert all(torch.equal(xa, xb) and torch.equal(ya, yb) for (xa, ya), (xb, yb) in zip(a, parallel))


def test_generator_advances_like_in_memory_feed_and_global_rng_untouched(data):
    feed = imagenet_feed(data, "train", batch_size=5, train=True, device="cpu", workers=0)
    g, reference = torch.Generator().manual_seed(7), torch.Generator().manual_seed(7)
    global_state = torch.get_rng_state()
    for _ in feed.batches(g):
        pass
    torch.randperm(len(data.y_train), generator=reference)
    torch.randint(0, 2**62, (), generator=reference)  # the pass's augmentation seed
    assert torch.equal(g.get_state(), reference.get_state())
    assert torch.equal(torch.get_rng_state(), global_state)


@pytest.mark.parametrize("world", [2, 5])
def test_shards_together_give_the_global_batches(data, world):
    def feed(shard):
        return imagenet_feed(data, "train", batch_size=5, train=True, device="cpu", shard=shard, workers=0)

    whole = _pass(feed(Shard()), 1)
    parts = [_pass(feed(Shard(rank, world)), 1) for rank in range(world)]
    assert all(len(p) == len(whole) for p in parts)
    for b, (x, y) in enumerate(whole):
        assert torch.equal(torch.cat([p[b][0] for p in parts]), x)
        assert torch.equal(torch.cat([p[b][1] for p in parts]), y)


def test_limit_per_class_keeps_first_k(data):
    feed = imagenet_feed(data, "train", batch_size=4, train=False, device="cpu", workers=0, limit_per_class=2)
    assert feed.labels.tolist() == [0, 0, 1, 1, 2, 2] and len(feed) == 2
    names = [p.decode().rsplit("/", 1)[1] for p in feed.paths[:2]]
    assert names == [f"{CLASSES[0]}_0.JPEG", f"{CLASSES[0]}_1.JPEG"]
    assert torch.cat([y for _, y in _pass(feed, None)]).tolist() == [0, 0, 1, 1, 2, 2]
    with pytest.raises(ValueError, match="split must be"):
        imagenet_feed(data, "test", batch_size=4, train=False, device="cpu")


# ------------------------------------------------------------------------------------ training stages


def test_streamed_imagenet_trains_converts_and_finetunes_through_the_stages(tree, tmp_path):
    """The tiny tree through train-snn, pretrain-ann + convert and finetune: every output in the usual
    format, test outputs for every validation image, calibration outputs for k training images per class."""
    n_classes, k = len(CLASSES), 2
    params = tmp_path / "params.yaml"
    run = {
        "dataset": "imagenet",
        "model": "resnet20",
        "width": 0.0625,
        "T": 2,
        "epochs": 1,
        "batch_size": 6,
        "flip": True,
    }
    params.write_text(
        yaml.safe_dump(
            {
                "seed": 0,
                "device": "cpu",
                "data": {"imagenet": {"root": str(tree), "workers": 0, "calibration_per_class": k}},
                "direct": {"i1": run},
                "conversion": {"c1": {**run, "qcfs_lambda": 2.0}},
                "seenn2": {"runs": ["i1"], "epochs": 1, "policy_width": 0.25, "policy_input_size": 112},
            }
        )
    )
    data, runs = tmp_path / "data", tmp_path / "runs"
    commands = [
        ["data", "imagenet", "--out", str(data)],
        ["train-snn", "i1", "--data", str(data), "--out", str(runs / "i1")],
        ["pretrain-ann", "c1", "--data", str(data), "--out", str(runs / "c1-ann")],
        ["convert", "c1", "--ann", str(runs / "c1-ann"), "--data", str(data), "--out", str(runs / "c1")],
        ["finetune", "i1", "--base", str(runs / "i1"), "--out", str(runs / "i1-seenn2")],
    ]
    for command in commands:
        result = runner.invoke(app, [*command, "--params", str(params)])
        assert result.exit_code == 0, (command, result.output)
    for name in ("i1", "c1", "i1-seenn2"):
        with np.load(runs / name / "timestep_logits.npz") as z:
            assert z["logits"].shape == (2, n_classes * VAL, n_classes)
            assert z["labels"].tolist() == sorted(list(range(n_classes)) * VAL)
    for name in ("i1", "c1"):
        with np.load(runs / name / "train_logits.npz") as z:
            assert z["logits"].shape == (2, n_classes * k, n_classes)
        with np.load(runs / name / "val_logits.npz") as z:  # one validation image per class (1 %, at least 1)
            assert z["logits"].shape == (2, n_classes, n_classes) and z["labels"].tolist() == [0, 1, 2]
    assert len(pd.read_csv(runs / "i1-seenn2" / "seenn2_val.csv")) == 1
