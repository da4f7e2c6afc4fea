"""Tests of the sklearn-digits split and of the simulated event-camera version (digits-dvs)."""

import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression
from threadpoolctl import threadpool_limits

from pipeline.data.digits import load_digits_split
from pipeline.data.digits_dvs import (
    DESCRIPTION,
    describe,
    events_from_video,
    shift_images,
    simulate_events,
    upsample_images,
)


@pytest.fixture(scope="module")
def split() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    return load_digits_split()


# ----------------------------------------------------------------------------------------- static digits


def test_split_shapes_dtypes_and_ranges(split):
    x_train, y_train, x_test, y_test = split
    assert x_train.shape == (1257, 1, 8, 8) and x_test.shape == (540, 1, 8, 8)
    assert y_train.shape == (1257,) and y_test.shape == (540,)
    assert x_train.dtype == np.float32 and x_test.dtype == np.float32
    assert y_train.dtype == np.int64 and y_test.dtype == np.int64
    both = np.concatenate([x_train, x_test])
    assert both.min() == 0.0 and both.max() == 1.0
    assert set(np.unique(np.concatenate([y_train, y_test]))) == set(range(10))


def test_split_is_stratified(split):
    _, y_train, _, y_test = split
    total = np.bincount(np.concatenate([y_train, y_test]), minlength=10)
    # Every class keeps its 30 % share in the test set up to rounding.
    assert np.all(np.abs(np.bincount(y_test, minlength=10) - 0.3 * total) <= 1.0)


def test_split_fraction_changes_sizes():
    x_train, _, x_test, _ = load_digits_split(test_fraction=0.5)
    assert len(x_train) + len(x_test) == 1797
    assert abs(len(x_test) - 898.5) <= 1


def test_split_is_deterministic_per_seed(split):
    again = load_digits_split(seed=0)
    for a, b in zip(split, again):
        np.testing.assert_array_equal(a, b)
    other = load_digits_split(seed=1)
    assert not np.array_equal(split[1], other[1])


@pytest.mark.parametrize("fraction", [0.0, 1.0, -0.2, 1.5])
def test_split_rejects_bad_fraction(fraction):
    with pytest.raises(ValueError, match=r"test_fraction.*\(0, 1\)"):
        load_digits_split(test_fraction=fraction)


# ------------------------------------------------------------------------------------------ digits-dvs


def test_description_says_simulated():
    assert "simulated" in DESCRIPTION and describe() == DESCRIPTION


def test_events_shape_dtype_and_integer_counts(split):
    x = split[0][:20]
    events = simulate_events(x, frames=5)
    assert events.shape == (20, 5, 2, 16, 16)  # [N, T, 2, H * 2, W * 2]
    assert events.dtype == np.float32
    assert events.min() >= 0
    np.testing.assert_array_equal(events, np.round(events))
    assert events[:, :, 0].sum() > 0 and events[:, :, 1].sum() > 0  # both polarities occur
    assert simulate_events(x, frames=3, upsample=1).shape == (20, 3, 2, 8, 8)


def test_events_are_deterministic_per_seed(split):
    x = split[0][:20]
    np.testing.assert_array_equal(simulate_events(x, 4, seed=3), simulate_events(x, 4, seed=3))
    assert not np.array_equal(simulate_events(x, 4, seed=3), simulate_events(x, 4, seed=4))


def test_still_or_uniform_image_gives_no_events():
    uniform = np.full((3, 1, 8, 8), 0.6, dtype=np.float32)
    # A still image: nothing changes, so no pixel crosses its threshold.
    assert simulate_events(uniform, 4, amplitude=0.0, noise_rate=0.0).sum() == 0
    # A moving uniform field also looks the same to every pixel (edges repeat outside the image).
    assert simulate_events(uniform, 4, noise_rate=0.0).sum() == 0
    # A still digit too.
    digit = np.zeros((1, 1, 8, 8), dtype=np.float32)
    digit[0, 0, 2:6, 3] = 1.0
    assert simulate_events(digit, 4, amplitude=0.0, noise_rate=0.0).sum() == 0


def test_background_noise_fires_without_motion():
    still = np.full((50, 1, 8, 8), 0.3, dtype=np.float32)
    events = simulate_events(still, 6, amplitude=0.0, noise_rate=0.01)
    # Expected count: 50 samples * 2 polarities * 256 pixels * 60 sub-steps * 0.01 = 15,360.
    assert abs(events.sum() - 15360) < 5 * np.sqrt(15360)


def test_threshold_above_any_contrast_gives_no_events(split):
    # The largest possible change is black <-> white, log((1 + 0.5) / 0.5) = 1.1; the mismatch can at
    # most halve the threshold.
    events = simulate_events(split[0][:20], 4, threshold=10.0, noise_rate=0.0)
    assert events.sum() == 0


def test_pixel_moved_right_gives_on_at_leading_and_off_at_trailing_edge():
    # One bright pixel at (row 2, col 1) of a black 5x5 image moves right by one pixel in two half steps.
    image = np.zeros((1, 1, 5, 5))
    image[0, 0, 2, 1] = 1.0
    video = np.concatenate(
        [shift_images(image, np.array([dx]), np.array([0.0]))[:, 0] for dx in (0.0, 0.5, 1.0)]
    )[None]  # [1, 3, 5, 5]
    events = events_from_video(video, frames=2, threshold=0.15, log_eps=0.1)  # [1, 2, 2, 5, 5]
    # Black -> white at the leading edge (2, 2) is log(1.1 / 0.1) = 2.40 = 15.99 thresholds: 15 ON
    # events in all; white -> black at the trailing edge (2, 1) gives 15 OFF events. Nothing else.
    on = events[0, :, 0].sum(axis=0)
    off = events[0, :, 1].sum(axis=0)
    assert on[2, 2] == 15 and on.sum() == 15
    assert off[2, 1] == 15 and off.sum() == 15
    # First half step: (2, 2) goes 0 -> 0.5, log(0.6 / 0.1) = 1.79 -> 11 ON; (2, 1) goes 1 -> 0.5,
    # log(1.1 / 0.6) = 0.61 -> 4 OFF. The second half step brings the rest.
    assert events[0, 0, 0, 2, 2] == 11 and events[0, 0, 1, 2, 1] == 4
    assert events[0, 1, 0, 2, 2] == 4 and events[0, 1, 1, 2, 1] == 11


def test_first_saccade_moves_right():
    # The first leg of the triangle moves the image right: ON events lie right of the OFF events.
    image = np.zeros((1, 1, 8, 8), dtype=np.float32)
    image[0, 0, 3:5, 3:5] = 1.0
    events = simulate_events(image, frames=3, threshold_mismatch=0.0, noise_rate=0.0)  # bin = leg
    cols = np.arange(16)
    on, off = events[0, 0, 0].sum(axis=0), events[0, 0, 1].sum(axis=0)  # [W'] per column
    assert on.sum() > 0 and off.sum() > 0
    assert (on @ cols) / on.sum() > (off @ cols) / off.sum() + 1.0


def test_shift_and_upsample_helpers():
    image = np.arange(16, dtype=np.float64).reshape(1, 1, 4, 4)
    np.testing.assert_array_equal(shift_images(image, np.zeros(1), np.zeros(1)), image)
    down = shift_images(image, np.zeros(1), np.ones(1))
    np.testing.assert_array_equal(down[0, 0, 1:], image[0, 0, :-1])  # content moved one row down
    np.testing.assert_array_equal(down[0, 0, 0], image[0, 0, 0])  # top edge repeats
    up = upsample_images(image, 2)
    assert up.shape == (1, 1, 8, 8)
    assert up.min() == image.min() and up.max() == image.max()


@pytest.mark.parametrize(
    ("kwargs", "name"),
    [
        ({"frames": 0}, "frames"),
        ({"frames": 2.5}, "frames"),
        ({"threshold": 0.0}, "threshold"),
        ({"threshold": -0.1}, "threshold"),
        ({"frames": 8, "saccade_steps": 6}, "saccade_steps"),
        ({"upsample": 0}, "upsample"),
        ({"amplitude": -1.0}, "amplitude"),
        ({"threshold_mismatch": -0.1}, "threshold_mismatch"),
        ({"log_eps": 0.0}, "log_eps"),
        ({"noise_rate": 1.5}, "noise_rate"),
    ],
)
def test_simulate_rejects_bad_arguments(kwargs, name):
    images = np.zeros((2, 1, 8, 8), dtype=np.float32)
    kwargs = {"frames": 4, **kwargs}
    with pytest.raises(ValueError, match=name):
        simulate_events(images, **kwargs)


@pytest.mark.parametrize(
    "images",
    [np.zeros((2, 8, 8)), np.zeros((2, 3, 8, 8)), np.full((2, 1, 8, 8), 2.0), np.full((2, 1, 8, 8), -1.0)],
)
def test_simulate_rejects_bad_images(images):
    with pytest.raises(ValueError, match="images"):
        simulate_events(images, frames=4)


def test_events_are_learnable(split):
    x_train, y_train, x_test, y_test = split
    # Few bins keep the feature count (T * 2 * 16 * 16) and the fit small; chance is 10 %.
    train = simulate_events(x_train, frames=2).reshape(len(x_train), -1)
    test = simulate_events(x_test, frames=2, seed=1).reshape(len(x_test), -1)
    # One BLAS thread: on a small, busy machine OpenBLAS threads spin against other processes and the
    # fit takes 10+ s instead of 0.2 s.
    with threadpool_limits(limits=1):
        model = LogisticRegression(max_iter=300).fit(train, y_train)
    assert model.score(test, y_test) > 0.5
