"""digits-dvs: simulated event-camera recordings of sklearn's digits, an offline stand-in for CIFAR10-DVS.

These are *simulated* events, not sensor recordings. Real neuromorphic image sets (N-MNIST,
CIFAR10-DVS) were made by showing a static image on a monitor and moving the sensor (or the image) so
that a dynamic vision sensor (DVS) sees edges move; this module imitates that process in numpy:

1. Upsampling. Each `[1, H, W]` image in [0, 1] is bilinearly upsampled by `upsample` (8x8 -> 16x16 by
   default) so that a motion of a fraction of an original pixel still moves edges across sensor pixels.
2. Saccades. The image is moved along a closed triangle of three straight saccades, as in N-MNIST:
   right, then down-left, then up-left back to the start, `amplitude` sensor pixels per side, centred on
   the original position. Each sample's triangle gets its own jitter (scale uniform in [0.8, 1.2],
   vertex offsets with std 0.15 * `amplitude`, drawn from `np.random.default_rng(seed)`), as a
   mechanically imprecise saccade would.
   The path is rendered at `saccade_steps` fine sub-steps with bilinear sub-pixel shifting (edge values
   repeated outside the image, like the blank monitor around a digit).
3. DVS pixels. Each pixel keeps a reference log intensity `log(I + log_eps)`, set from the first
   rendered frame (the sensor has adapted to the still image). Whenever the current log intensity is
   more than the pixel's threshold above (below) the reference, the pixel emits one ON (OFF) event per
   whole threshold crossed and the reference moves by one threshold per event. Thresholds carry a fixed
   per-pixel mismatch (`threshold * (1 + threshold_mismatch * z)`, `z ~ N(0, 1)`, factor clipped to
   [0.5, 1.5]), as real sensors do; the mismatch map is the same for all samples (one sensor).
4. Background activity. Real DVS pixels also fire spuriously (shot noise, leakage): every pixel and
   polarity fires with probability `noise_rate` per sub-step, independently of the image.
5. Binning. The events of the fine sub-steps are counted into `frames` equal time bins, giving
   `[N, frames, 2, H * upsample, W * upsample]` float32 counts, channel 0 = ON, channel 1 = OFF.

Without background activity (`noise_rate=0`) a uniform image produces no events however it moves and a
still image produces none at all; only moving edges do. The classes stay learnable, but from edges seen
during motion rather than static pixels, and one early time bin tells less than the whole recording.
"""

from collections.abc import Callable

import numpy as np

DESCRIPTION = "digits-dvs (simulated events from sklearn digits)"

# Triangle saccade in (dx, dy) sensor-pixel units per unit amplitude, y pointing down: right, down-left,
# up-left back to the start (N-MNIST's three saccades). Centred below so the digit stays in frame.
_TRIANGLE = np.array([[0.0, 0.0], [1.0, 0.0], [0.5, np.sqrt(3.0) / 2.0]])


def describe() -> str:
    """Human-readable name of this data set, always marked as simulated."""
    return DESCRIPTION


def _interp_axis(a: np.ndarray, src: np.ndarray, axis: int) -> np.ndarray:
    """Linear interpolation of `a [N, H, W]` at source coordinates `src [N, L]` along `axis` (1 or 2).

    Coordinates outside the array are clamped to its edge, i.e. edge values repeat. Returns `[N, L, W]`
    for axis 1 and `[N, H, L]` for axis 2.
    """
    size = a.shape[axis]
    src = np.clip(src, 0.0, size - 1)
    i0 = np.minimum(np.floor(src).astype(np.int64), max(size - 2, 0))  # left neighbour, [N, L]
    i1 = np.minimum(i0 + 1, size - 1)
    frac = src - i0
    # Broadcast the per-sample index rows over the other spatial axis for take_along_axis.
    expand = (slice(None), slice(None), None) if axis == 1 else (slice(None), None, slice(None))
    lo = np.take_along_axis(a, i0[expand], axis=axis)
    hi = np.take_along_axis(a, i1[expand], axis=axis)
    return lo + frac[expand] * (hi - lo)


def shift_images(images: np.ndarray, dx: np.ndarray, dy: np.ndarray) -> np.ndarray:
    """Bilinearly shift each image by its own sub-pixel offset; values outside repeat the edge.

    Args:
        images: `[N, 1, H, W]` float array.
        dx: `[N]` rightward shift in pixels (content moves right for dx > 0).
        dy: `[N]` downward shift in pixels (content moves down for dy > 0).

    Returns:
        `[N, 1, H, W]` float64 shifted images: `out[y, x] = in[y - dy, x - dx]`, bilinearly interpolated.
    """
    _, _, h, w = images.shape
    dx = np.asarray(dx, dtype=np.float64)[:, None]  # [N, 1]
    dy = np.asarray(dy, dtype=np.float64)[:, None]
    # A translation is separable: interpolate along x, then along y.
    out = _interp_axis(images[:, 0].astype(np.float64), np.arange(w) - dx, axis=2)  # [N, H, W]
    out = _interp_axis(out, np.arange(h) - dy, axis=1)  # [N, H, W]
    return out[:, None]


def upsample_images(images: np.ndarray, factor: int) -> np.ndarray:
    """Bilinear upsampling `[N, 1, H, W] -> [N, 1, H * factor, W * factor]` (pixel-centre aligned).

    Matches `torch.nn.functional.interpolate(..., mode="bilinear", align_corners=False)`.
    """
    n, _, h, w = images.shape
    # Centre of output pixel i lies at input coordinate (i + 0.5) / factor - 0.5.
    xs = np.broadcast_to((np.arange(w * factor) + 0.5) / factor - 0.5, (n, w * factor))
    ys = np.broadcast_to((np.arange(h * factor) + 0.5) / factor - 0.5, (n, h * factor))
    out = _interp_axis(images[:, 0].astype(np.float64), xs, axis=2)  # [N, H, W * factor]
    return _interp_axis(out, ys, axis=1)[:, None]  # [N, 1, H * factor, W * factor]


def _dvs_step(
    log_now: np.ndarray, reference: np.ndarray, thresholds: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One DVS update: events per pixel for the change from `reference` to `log_now`.

    All arrays share one shape (e.g. `[N, H, W]`); `thresholds` broadcasts against it.

    Returns:
        `(on, off, new_reference)`: non-negative integer event counts (float64) and the moved reference.
    """
    crossings = np.trunc((log_now - reference) / thresholds)  # signed whole threshold crossings
    on = np.maximum(crossings, 0.0)
    off = np.maximum(-crossings, 0.0)
    return on, off, reference + crossings * thresholds


def _run_pixels(
    log_frame: Callable[[int], np.ndarray], steps: int, frames: int, thresholds: float | np.ndarray
) -> np.ndarray:
    """Run DVS pixels over `steps + 1` log-intensity frames `log_frame(k) [N, H, W]`, k = 0..steps.

    Returns `[N, frames, 2, H, W]` float32 counts; sub-step k (instant k to k + 1) goes to bin
    `k * frames // steps`, so every bin gets an equal share (up to one) of the sub-steps.
    """
    reference = log_frame(0)  # [N, H, W]; the pixels have adapted to the image at the start
    n, h, w = reference.shape
    events = np.zeros((n, frames, 2, h, w), dtype=np.float32)  # [N, T, 2, H, W]
    for k in range(steps):
        on, off, reference = _dvs_step(log_frame(k + 1), reference, thresholds)
        b = k * frames // steps
        events[:, b, 0] += on.astype(np.float32)
        events[:, b, 1] += off.astype(np.float32)
    return events


def _is_int(value: object) -> bool:
    return isinstance(value, (int, np.integer)) and not isinstance(value, bool)


def _validate_frames_threshold(frames: int, threshold: float) -> None:
    if not _is_int(frames) or frames < 1:
        raise ValueError(f"frames must be an integer >= 1, got {frames!r}")
    if not np.isfinite(threshold) or threshold <= 0:
        raise ValueError(f"threshold must be a finite number > 0, got {threshold!r}")


def events_from_video(
    video: np.ndarray, frames: int, threshold: float | np.ndarray = 0.15, log_eps: float = 0.5
) -> np.ndarray:
    """DVS events of an already rendered intensity video, binned into `frames` time bins.

    Args:
        video: `[N, S + 1, H, W]` intensities >= 0 at S + 1 instants; S >= `frames` sub-steps.
        frames: Number of equal time bins; sub-step k (from instant k to k + 1) goes to bin
            `k * frames // S`.
        threshold: Log-intensity contrast threshold, a scalar or an array broadcasting to `[N, H, W]`.
        log_eps: Offset in `log(I + log_eps)`, so that black pixels have a finite log intensity.

    Returns:
        `[N, frames, 2, H, W]` float32 event counts, channel 0 = ON, channel 1 = OFF.

    Raises:
        ValueError: On a malformed video or out-of-range argument.
    """
    if video.ndim != 4 or video.shape[1] < 2:
        raise ValueError(f"video must be [N, S + 1, H, W] with S >= 1, got shape {video.shape}")
    _validate_frames_threshold(frames, float(np.min(threshold)))
    steps = video.shape[1] - 1
    if steps < frames:
        raise ValueError(f"video sub-steps S must be >= frames ({frames}), got {steps}")
    if log_eps <= 0:
        raise ValueError(f"log_eps must be > 0, got {log_eps!r}")
    log_video = np.log(video.astype(np.float64) + log_eps)  # [N, S + 1, H, W]
    return _run_pixels(lambda k: log_video[:, k], steps, frames, threshold)


def _saccade_offsets(n: int, steps: int, amplitude: float, rng: np.random.Generator) -> np.ndarray:
    """Per-sample jittered triangle path sampled at `steps + 1` instants, `[N, S + 1, 2]` as (dx, dy)."""
    base = (_TRIANGLE - _TRIANGLE.mean(axis=0)) * amplitude  # [3, 2], centred on the still image
    scale = rng.uniform(0.8, 1.2, size=(n, 1, 1))  # per-sample saccade size
    vertices = base[None] * scale + rng.normal(0.0, 0.15 * amplitude, size=(n, 3, 2))  # [N, 3, 2]
    closed = np.concatenate([vertices, vertices[:, :1]], axis=1)  # [N, 4, 2], back to the start
    # Constant speed in time per leg: each of the 3 legs takes a third of the recording.
    t = np.linspace(0.0, 3.0, steps + 1)  # [S + 1], leg index + fraction
    leg = np.minimum(t.astype(int), 2)
    frac = (t - leg)[None, :, None]  # [1, S + 1, 1]
    return closed[:, leg] + frac * (closed[:, leg + 1] - closed[:, leg])  # [N, S + 1, 2]


def simulate_events(
    images: np.ndarray,
    frames: int,
    threshold: float = 0.15,
    saccade_steps: int = 60,
    upsample: int = 2,
    amplitude: float = 2.0,
    threshold_mismatch: float = 0.05,
    log_eps: float = 0.5,
    noise_rate: float = 0.005,
    seed: int = 0,
) -> np.ndarray:
    """Simulated DVS recording of each static image moved along a triangle saccade (module docstring).

    Args:
        images: `[N, 1, H, W]` intensities in [0, 1].
        frames: Number of equal time bins T of the output, 1 <= T <= `saccade_steps`.
        threshold: Nominal log-intensity contrast threshold per event, > 0.
        saccade_steps: Fine rendering sub-steps along the whole 3-leg path, >= `frames`.
        upsample: Integer bilinear upsampling factor applied before moving, >= 1.
        amplitude: Side of the triangle path in upsampled (sensor) pixels, >= 0; 0 keeps the image still.
        threshold_mismatch: Relative std of the fixed per-pixel threshold mismatch, >= 0.
        log_eps: Offset in `log(I + log_eps)`, > 0; smaller values give more events on dark edges.
        noise_rate: Probability of a spurious event per pixel, polarity and sub-step, in [0, 1].
        seed: Seed of `np.random.default_rng` for the path jitter, the mismatch map and the noise.

    Returns:
        `[N, frames, 2, H * upsample, W * upsample]` float32 event counts (whole numbers >= 0),
        channel 0 = ON (brighter), channel 1 = OFF (darker).

    Raises:
        ValueError: On a malformed image array or an out-of-range argument.
    """
    if images.ndim != 4 or images.shape[1] != 1:
        raise ValueError(f"images must be 4-D [N, 1, H, W] with 1 channel, got shape {images.shape}")
    if images.size and (not np.all(np.isfinite(images)) or images.min() < 0 or images.max() > 1):
        raise ValueError(f"images must hold values in [0, 1], got range [{images.min()}, {images.max()}]")
    _validate_frames_threshold(frames, threshold)
    if not _is_int(saccade_steps) or saccade_steps < frames:
        raise ValueError(f"saccade_steps must be an integer >= frames ({frames}), got {saccade_steps!r}")
    if not _is_int(upsample) or upsample < 1:
        raise ValueError(f"upsample must be an integer >= 1, got {upsample!r}")
    if not amplitude >= 0:
        raise ValueError(f"amplitude must be >= 0, got {amplitude!r}")
    if not threshold_mismatch >= 0:
        raise ValueError(f"threshold_mismatch must be >= 0, got {threshold_mismatch!r}")
    if not log_eps > 0:
        raise ValueError(f"log_eps must be > 0, got {log_eps!r}")
    if not 0 <= noise_rate <= 1:
        raise ValueError(f"noise_rate must be in [0, 1], got {noise_rate!r}")

    rng = np.random.default_rng(seed)
    n, _, h, w = images.shape
    hs, ws = h * upsample, w * upsample
    # The mismatch map is drawn first so that one seed means one sensor whatever the number of images.
    factor = np.clip(1.0 + threshold_mismatch * rng.normal(size=(hs, ws)), 0.5, 1.5)
    thresholds = threshold * factor  # [H', W'], one sensor for all samples
    offsets = _saccade_offsets(n, saccade_steps, amplitude, rng)  # [N, S + 1, 2]

    sensor = upsample_images(images, upsample)  # [N, 1, H', W'], float64

    def log_frame(k: int) -> np.ndarray:
        shifted = shift_images(sensor, offsets[:, k, 0], offsets[:, k, 1])  # [N, 1, H', W']
        return np.log(shifted[:, 0] + log_eps)  # [N, H', W']

    # Rendered one sub-step at a time rather than as a whole [N, S + 1, H', W'] video to bound memory.
    events = _run_pixels(log_frame, saccade_steps, frames, thresholds)  # [N, T, 2, H', W']
    if noise_rate > 0:
        # One Bernoulli draw per pixel, polarity and sub-step, summed per bin: a binomial per bin.
        steps_per_bin = np.bincount(np.arange(saccade_steps) * frames // saccade_steps, minlength=frames)
        noise = rng.binomial(steps_per_bin[None, :, None, None, None], noise_rate, size=events.shape)
        events += noise.astype(np.float32)  # [N, T, 2, H', W']
    return events
