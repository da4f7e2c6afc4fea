"""Tests of the real-data loaders (CIFAR-10/100 image folders, CIFAR10-DVS recordings) on tiny fakes.

The fakes are written into `tmp_path`: nothing is downloaded. The last test decodes part of a real
CIFAR-10 JPEG archive named by SEENN_CIFAR10_ARCHIVE and skips, naming the variable, without one.
"""

import shutil
import struct
import tarfile
from pathlib import Path, PurePosixPath

import numpy as np
import pytest
from PIL import Image

from pipeline.data.cifar import CIFAR10_CLASSES, CIFAR_MEAN_STD, load_cifar, read_image
from pipeline.data.cifar10_dvs import (
    SENSOR_SIZE,
    Events,
    events_to_frames,
    list_recordings,
    load_cifar10_dvs,
    read_aedat,
    resize_frames,
)

from tests.sandbox import cifar10_archive, cifar10_archive_skip_reason

CIFAR10_ARCHIVE = cifar10_archive()

# ------------------------------------------------------------------------------- CIFAR image folders


def _pixel_value(label: int, index: int) -> int:
    return 10 * label + index  # a distinct grey level per image, exact in PNG


def _write_image(path: Path, value: int, size: int = 32, fmt: str = "PNG") -> None:
    rgb = np.full((size, size, 3), value, dtype=np.uint8)
    rgb[0, 0] = (value, 255 - value, 7)  # one coloured pixel, so channel order is checked too
    Image.fromarray(rgb).save(path, format=fmt)


def _make_tree(root: Path, per_class: int = 2, classes: tuple[str, ...] = CIFAR10_CLASSES) -> Path:
    """`root/train/<class>/i.png` and `root/test/<class>/i.jpg`, `per_class` images each."""
    for split, fmt, ext in (("train", "PNG", "png"), ("test", "JPEG", "jpg")):
        for label, cls in enumerate(classes):
            folder = root / split / cls
            folder.mkdir(parents=True)
            for i in range(per_class):
                _write_image(folder / f"{i:04d}.{ext}", _pixel_value(label, i), fmt=fmt)
    return root


def test_image_folder_shapes_labels_and_pixels(tmp_path):
    x_train, y_train, x_test, y_test = load_cifar("cifar10", _make_tree(tmp_path))
    assert x_train.shape == (20, 3, 32, 32) and x_test.shape == (20, 3, 32, 32)
    assert x_train.dtype == np.uint8 and x_test.dtype == np.uint8
    assert y_train.dtype == np.int64 and y_test.dtype == np.int64
    # Class index = position in the sorted folder names; files in name order within a class.
    np.testing.assert_array_equal(y_train, np.repeat(np.arange(10), 2))
    np.testing.assert_array_equal(y_test, np.repeat(np.arange(10), 2))
    for n, (label, i) in enumerate((c, i) for c in range(10) for i in range(2)):
        v = _pixel_value(label, i)
        assert (x_train[n, :, 1:, :] == v).all()  # PNG is lossless
        assert tuple(x_train[n, :, 0, 0]) == (v, 255 - v, 7)  # channels in RGB order, [C, H, W]
    # JPEG is lossy (and smears the coloured corner pixel): grey levels within a few units away from it.
    assert np.abs(x_test[:, :, 8:, 8:].astype(int) - x_train[:, :, 8:, 8:].astype(int)).max() <= 8


def test_sorted_class_folders_define_labels(tmp_path):
    # Folder names other than the official ones are accepted; order = sorted names.
    names = tuple(f"c{i}" for i in range(9, -1, -1))
    x_train, y_train, _, _ = load_cifar("cifar10", _make_tree(tmp_path, 1, names))
    assert sorted(names)[int(y_train[0])] == "c0"
    assert x_train[0, 1, 5, 5] == _pixel_value(names.index("c0"), 0)


def test_subset_keeps_first_k_per_class(tmp_path):
    root = _make_tree(tmp_path, per_class=3)
    x_train, y_train, x_test, y_test = load_cifar(
        "cifar10", root, subset_per_class=2, test_subset_per_class=1
    )
    np.testing.assert_array_equal(y_train, np.repeat(np.arange(10), 2))
    np.testing.assert_array_equal(y_test, np.arange(10))
    # The first two files of each class by name, none of the third.
    assert sorted({int(v) for v in x_train[:, 1, 5, 5]}) == sorted(
        _pixel_value(c, i) for c in range(10) for i in range(2)
    )
    with pytest.raises(ValueError, match=r"airplane holds 3 images, fewer than the 4"):
        load_cifar("cifar10", root, subset_per_class=4)
    with pytest.raises(ValueError, match="subset_per_class"):
        load_cifar("cifar10", root, subset_per_class=-1)


def test_cifar100_needs_100_class_folders(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"holds 10 class folders, expected 100 for cifar100"):
        load_cifar("cifar100", _make_tree(tmp_path))


def _one_line(err: pytest.ExceptionInfo) -> str:
    text = str(err.value)
    assert "\n" not in text
    return text


def test_missing_data_says_where_to_put_it(tmp_path):
    with pytest.raises(FileNotFoundError) as err:
        load_cifar("cifar10", tmp_path / "nowhere")
    text = _one_line(err)
    assert "cifar-10-batches-py" in text and "train/<class>" in text and "test/<class>" in text
    assert "download=True" in text
    with pytest.raises(FileNotFoundError, match="cifar-100-python"):
        load_cifar("cifar100", tmp_path)
    with pytest.raises(ValueError, match="unknown CIFAR variant"):
        load_cifar("cifar1000", tmp_path)


def test_missing_split_folder(tmp_path):
    root = _make_tree(tmp_path)
    shutil.rmtree(root / "test")
    with pytest.raises(FileNotFoundError) as err:
        load_cifar("cifar10", root)
    assert str(root / "test") in _one_line(err)


def test_missing_class_folder_is_named(tmp_path):
    root = _make_tree(tmp_path)
    shutil.rmtree(root / "train" / "cat")
    with pytest.raises(FileNotFoundError) as err:
        load_cifar("cifar10", root)
    assert str(root / "train" / "cat") in _one_line(err)
    # Missing from both splits: the count is wrong and the official name is given.
    shutil.rmtree(root / "test" / "cat")
    with pytest.raises(FileNotFoundError, match=r"holds 9 class folders, expected 10 .*missing: cat"):
        load_cifar("cifar10", root)


def test_empty_class_folder_is_named(tmp_path):
    root = _make_tree(tmp_path)
    for f in (root / "test" / "dog").iterdir():
        f.unlink()
    with pytest.raises(ValueError) as err:
        load_cifar("cifar10", root)
    assert f"{root / 'test' / 'dog'} holds no image files" in _one_line(err)


@pytest.mark.parametrize("fmt", ["PNG", "JPEG"])
def test_truncated_image_is_named(tmp_path, fmt):
    path = tmp_path / f"img.{fmt.lower()}"
    rng = np.random.default_rng(0)  # noise, so the file is large enough to cut mid-data
    Image.fromarray(rng.integers(0, 256, (32, 32, 3), dtype=np.uint8)).save(path, format=fmt)
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    with pytest.raises(ValueError) as err:
        read_image(path)
    assert _one_line(err).startswith(f"{path} is not a readable image")


def test_corrupt_files_in_tree_are_named(tmp_path):
    root = _make_tree(tmp_path)
    bad = root / "train" / "frog" / "0001.png"
    bad.write_bytes(bad.read_bytes()[:40])
    with pytest.raises(ValueError) as err:
        load_cifar("cifar10", root)
    assert str(bad) in _one_line(err)
    bad.write_bytes(b"not an image at all")
    with pytest.raises(ValueError, match="is not a readable image"):
        load_cifar("cifar10", root)


def test_wrong_size_image_is_named(tmp_path):
    root = _make_tree(tmp_path)
    bad = root / "test" / "ship" / "0000.jpg"
    _write_image(bad, 5, size=16, fmt="JPEG")
    with pytest.raises(ValueError) as err:
        load_cifar("cifar10", root)
    assert _one_line(err) == f"{bad} is 16x16 pixels, expected 32x32"


def test_corrupt_torchvision_batch_is_named(tmp_path):
    # torchvision's layout wins when present; a file with the wrong md5 is named, not "corrupted".
    folder = tmp_path / "cifar-10-batches-py"
    folder.mkdir()
    for name in ("data_batch_1", "data_batch_2", "data_batch_3", "data_batch_4", "data_batch_5"):
        (folder / name).write_bytes(b"cut short")
    with pytest.raises(ValueError) as err:
        load_cifar("cifar10", tmp_path)
    assert _one_line(err).startswith(f"{folder / 'data_batch_1'} is corrupt or cut short")
    (folder / "data_batch_2").unlink()
    (folder / "data_batch_1").unlink()
    with pytest.raises(FileNotFoundError, match=r"data_batch_1 is missing"):
        load_cifar("cifar10", tmp_path)


def test_failed_download_is_one_line(tmp_path, monkeypatch):
    # No network in tests: torchvision's downloader is replaced by one that fails as offline hosts do.
    import torchvision.datasets.cifar as tv_cifar

    def offline(*args, **kwargs):
        raise OSError("[Errno -3] Temporary failure in name resolution\nmore detail")

    monkeypatch.setattr(tv_cifar, "download_and_extract_archive", offline)
    with pytest.raises(RuntimeError) as err:
        load_cifar("cifar10", tmp_path, download=True)
    text = _one_line(err)
    assert text.startswith(f"downloading CIFAR-10 into {tmp_path} failed ([Errno -3] Temporary failure")
    assert "cifar-10-batches-py" in text


def test_mean_std_table():
    assert set(CIFAR_MEAN_STD) == {"cifar10", "cifar100"}
    for mean, std in CIFAR_MEAN_STD.values():
        assert len(mean) == len(std) == 3
        assert all(0.4 < m < 0.52 for m in mean) and all(0.19 < s < 0.28 for s in std)


# ------------------------------------------------------------------------------------------ CIFAR10-DVS


def _address(x: int, y: int, p: int) -> int:
    """Raw address that decodes to column x, row y, polarity p (inverse of the spikingjelly layout)."""
    raw_x, raw_y, raw_p = 127 - y, 127 - x, 1 - p
    return (raw_y << 8) | (raw_x << 1) | raw_p


def _write_aedat(path: Path, events: list[tuple[int, int, int, int]]) -> None:
    """AER-DAT 2.0: '#' header lines, then (address, timestamp) big-endian uint32 pairs."""
    header = (
        b"#!AER-DAT2.0\r\n"
        b"# This is a raw AE data file - do not edit\r\n"
        b"# Data format is int32 address, int32 timestamp (8 bytes total)\r\n"
    )
    body = b"".join(struct.pack(">II", _address(x, y, p), t) for t, x, y, p in events)
    path.write_bytes(header + body)


def _make_dvs_tree(root: Path, per_class: int = 5) -> Path:
    for label, cls in enumerate(CIFAR10_CLASSES):
        (root / cls).mkdir(parents=True)
        for i in range(per_class):
            # One event per slice at a pixel that encodes (label, i); 10 events for T = 10.
            events = [(100 * k, label, i, k % 2) for k in range(10)]
            _write_aedat(root / cls / f"cifar10_{cls}_{i}.aedat", events)
    return root


def test_read_aedat_decodes_known_events(tmp_path):
    path = tmp_path / "rec.aedat"
    events = [(5, 0, 0, 0), (17, 127, 3, 1), (4_000_000_000, 64, 127, 1)]
    _write_aedat(path, events)
    ev = read_aedat(path)
    np.testing.assert_array_equal(ev.t, [5, 17, 4_000_000_000])
    np.testing.assert_array_equal(ev.x, [0, 127, 64])
    np.testing.assert_array_equal(ev.y, [0, 3, 127])
    np.testing.assert_array_equal(ev.p, [0, 1, 1])


def test_read_aedat_matches_spikingjelly_bit_layout(tmp_path):
    # addr = raw_y << 8 | raw_x << 1 | raw_p; spikingjelly returns
    # x = 127 - raw_y, y = 127 - raw_x, p = 1 - raw_p.
    path = tmp_path / "rec.aedat"
    path.write_bytes(b"#!AER-DAT2.0\r\n" + struct.pack(">II", (10 << 8) | (20 << 1) | 1, 99))
    ev = read_aedat(path)
    assert (ev.x[0], ev.y[0], ev.p[0], ev.t[0]) == (117, 107, 0, 99)


def test_events_to_frames_bins_by_count():
    # 7 events into 3 slices of 7 // 3 = 2, the last slice taking the remaining 3.
    ev = Events(
        t=np.arange(7),
        x=np.array([0, 1, 2, 3, 3, 3, 0]),
        y=np.array([0, 0, 1, 2, 2, 2, 3]),
        p=np.array([0, 1, 0, 1, 1, 0, 1]),
    )
    frames = events_to_frames(ev, frames=3, height=4, width=5)
    assert frames.shape == (3, 2, 4, 5) and frames.dtype == np.float32
    expected = np.zeros((3, 2, 4, 5), dtype=np.float32)
    # (slot, x, y, p) of each event: slots 0, 0, 1, 1, 2, 2, 2.
    placed = [(0, 0, 0, 0), (0, 1, 0, 1), (1, 2, 1, 0), (1, 3, 2, 1), (2, 3, 2, 1), (2, 3, 2, 0)]
    for slot, x, y, p in placed + [(2, 0, 3, 1)]:
        expected[slot, p, y, x] += 1  # [T, polarity, row, column]
    np.testing.assert_array_equal(frames, expected)
    assert frames.sum() == 7


def test_events_to_frames_fewer_events_than_frames_and_errors():
    ev = Events(t=np.arange(2), x=np.array([1, 1]), y=np.array([0, 0]), p=np.array([1, 1]))
    frames = events_to_frames(ev, frames=4, height=2, width=2)
    assert frames[:3].sum() == 0 and frames[3, 1, 0, 1] == 2  # spikingjelly: all in the last slice
    with pytest.raises(ValueError, match="out of range"):
        events_to_frames(ev, frames=4, height=2, width=1)
    empty = Events(*(np.zeros(0, dtype=np.int64) for _ in range(4)))
    with pytest.raises(ValueError, match="no events"):
        events_to_frames(empty, frames=4, height=2, width=2)


def test_resize_area_keeps_mean_count():
    rng = np.random.default_rng(0)
    counts = rng.poisson(1.0, size=(2, 2, SENSOR_SIZE, SENSOR_SIZE)).astype(np.float32)
    small = resize_frames(counts, 48)
    assert small.shape == (2, 2, 48, 48) and small.dtype == np.float32
    np.testing.assert_allclose(small.mean(axis=(2, 3)), counts.mean(axis=(2, 3)), rtol=0.02)
    assert resize_frames(counts, 48, "bilinear").shape == (2, 2, 48, 48)
    np.testing.assert_array_equal(resize_frames(counts, SENSOR_SIZE), counts)
    with pytest.raises(ValueError, match="interpolation"):
        resize_frames(counts, 48, "nearest")


def test_cut_short_and_empty_recordings_are_named(tmp_path):
    path = tmp_path / "rec.aedat"
    _write_aedat(path, [(1, 2, 3, 0), (2, 3, 4, 1)])
    path.write_bytes(path.read_bytes()[:-3])
    with pytest.raises(ValueError) as err:
        read_aedat(path)
    assert _one_line(err).startswith(f"{path} is cut short: 13 bytes")
    _write_aedat(path, [])
    with pytest.raises(ValueError) as err:
        read_aedat(path)
    assert _one_line(err) == f"{path} holds no events after its header"


def test_split_rule_first_files_by_name_train_rest_test(tmp_path):
    root = _make_dvs_tree(tmp_path, per_class=12)
    train, test = list_recordings(root, train_per_class=9)
    assert len(train) == 90 and len(test) == 30
    names = sorted(f"cifar10_airplane_{i}.aedat" for i in range(12))  # string order: _0, _1, _10, _11, _2 ...
    assert [p.name for p, label in train if label == 0] == names[:9]
    assert [p.name for p, label in test if label == 0] == names[9:]
    assert [label for _, label in test] == [c for c in range(10) for _ in range(3)]
    with pytest.raises(ValueError, match="need more than train_per_class=12"):
        list_recordings(root, train_per_class=12)


def test_load_cifar10_dvs_frames_and_labels(tmp_path):
    root = _make_dvs_tree(tmp_path, per_class=3)
    x_train, y_train, x_test, y_test = load_cifar10_dvs(root, frames=10, size=SENSOR_SIZE, train_per_class=2)
    assert x_train.shape == (20, 10, 2, 128, 128) and x_test.shape == (10, 10, 2, 128, 128)
    assert x_train.dtype == np.float32 and y_train.dtype == np.int64
    np.testing.assert_array_equal(y_train, np.repeat(np.arange(10), 2))
    np.testing.assert_array_equal(y_test, np.arange(10))
    # Recording i of class c has one event per slice k at column c, row i, polarity k % 2.
    for n, (c, i) in enumerate((c, i) for c in range(10) for i in range(2)):
        for k in range(10):
            assert x_train[n, k, k % 2, i, c] == 1
        assert x_train[n].sum() == 10
    small = load_cifar10_dvs(root, train_per_class=2, subset_per_class=1)
    assert small[0].shape == (10, 10, 2, 48, 48) and small[2].shape == (10, 10, 2, 48, 48)
    # Area resize spreads each slice's single event over the output pixels whose windows cover it.
    on = small[0][:, :, 0].sum(axis=(2, 3)), small[0][:, :, 1].sum(axis=(2, 3))  # [N, T] per polarity
    assert (on[0][:, 0::2] > 0).all() and (on[0][:, 1::2] == 0).all()
    assert (on[1][:, 1::2] > 0).all() and (on[1][:, 0::2] == 0).all()
    with pytest.raises(ValueError, match="subset_per_class=2 exceeds the test recordings"):
        load_cifar10_dvs(root, train_per_class=2, subset_per_class=2)


def test_dvs_corrupt_or_missing_parts_are_named(tmp_path):
    with pytest.raises(FileNotFoundError) as err:
        load_cifar10_dvs(tmp_path / "nowhere")
    text = _one_line(err)
    assert "<class>/*.aedat" in text and "airplane" in text and "truck" in text
    root = _make_dvs_tree(tmp_path / "dvs", per_class=3)
    bad = root / "horse" / "cifar10_horse_1.aedat"
    bad.write_bytes(bad.read_bytes()[:-1])
    with pytest.raises(ValueError) as err:
        load_cifar10_dvs(root, train_per_class=2)
    assert _one_line(err).startswith(f"{bad} is cut short")
    shutil.rmtree(root / "deer")
    with pytest.raises(FileNotFoundError) as err:
        load_cifar10_dvs(root, train_per_class=2)
    assert _one_line(err).startswith(f"{root / 'deer'} is missing")
    (root / "deer").mkdir()
    with pytest.raises(FileNotFoundError, match="deer holds no .aedat recordings"):
        load_cifar10_dvs(root, train_per_class=2)


# ---------------------------------------------------------------------------- a real CIFAR-10 JPEG archive


@pytest.mark.skipif(CIFAR10_ARCHIVE is None, reason=cifar10_archive_skip_reason())
def test_cifar10_jpeg_archive_subset(tmp_path):
    # Extract only the first 25 files (by name) of each class folder: the loader's first 20 / 10 are
    # the same as in the whole tree, at a fraction of the ~20 s a full extraction takes.
    with tarfile.open(CIFAR10_ARCHIVE) as tar:
        by_folder: dict[PurePosixPath, list[tarfile.TarInfo]] = {}
        for member in tar.getmembers():
            if member.isfile():
                by_folder.setdefault(PurePosixPath(member.name).parent, []).append(member)
        keep = [m for ms in by_folder.values() for m in sorted(ms, key=lambda m: m.name)[:25]]
        tar.extractall(tmp_path, members=keep, filter="data")
    assert len(by_folder) == 20  # train/ and test/, 10 classes each
    x_train, y_train, x_test, y_test = load_cifar(
        "cifar10", tmp_path, subset_per_class=20, test_subset_per_class=10
    )
    assert x_train.shape == (200, 3, 32, 32) and x_test.shape == (100, 3, 32, 32)
    assert x_train.dtype == np.uint8 and x_test.dtype == np.uint8
    np.testing.assert_array_equal(np.bincount(y_train), np.full(10, 20))
    np.testing.assert_array_equal(np.bincount(y_test), np.full(10, 10))
    assert x_train.max() > 200 and x_train.min() < 50  # real photographs, full range
