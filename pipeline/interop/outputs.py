"""The exchange format of recorded outputs: one .npz with `logits [T, N, C]` (float, the network's output
at each timestep, not accumulated) and `labels [N]` (int, class indices in 0..C-1).

`load_outputs` checks a file and fails with one line naming the file, the array and what is allowed, so
`seenn evaluate` can refuse bad input before it writes anything. numpy only: evaluating saved outputs never
loads torch.
"""

import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from pipeline.core.atomic import write_atomic

ARRAYS = ("logits", "labels")


class OutputsError(ValueError):
    """A recorded-outputs file that cannot be evaluated; the message is one line for the user."""


@dataclass(frozen=True)
class Outputs:
    """One set's recorded outputs, checked."""

    path: Path  # where they were read from (named in every message)
    logits: np.ndarray  # [T, N, C] float32, per-timestep outputs
    labels: np.ndarray  # [N] int64, in 0..C-1

    @property
    def T(self) -> int:
        return int(self.logits.shape[0])

    @property
    def N(self) -> int:
        return int(self.logits.shape[1])

    @property
    def C(self) -> int:
        return int(self.logits.shape[2])


def check_outputs(logits: np.ndarray, labels: np.ndarray, where: str) -> tuple[np.ndarray, np.ndarray]:
    """`(logits [T, N, C] float32, labels [N] int64)` or OutputsError naming `where` and what is wrong."""
    logits, labels = np.asarray(logits), np.asarray(labels)
    if logits.ndim != 3:
        raise OutputsError(
            f"{where}: 'logits' has shape {tuple(logits.shape)}; "
            "allowed: [T, N, C] (timesteps, inputs, classes)"
        )
    if not np.issubdtype(logits.dtype, np.floating):
        raise OutputsError(f"{where}: 'logits' has dtype {logits.dtype}; allowed: a float dtype")
    T, N, C = logits.shape
    if T < 2:
        raise OutputsError(f"{where}: 'logits' has T = {T} timestep(s); early exit needs T >= 2")
    if N < 1 or C < 2:
        raise OutputsError(
            f"{where}: 'logits' has N = {N} inputs and C = {C} classes; allowed: N >= 1, C >= 2"
        )
    if not np.isfinite(logits).all():
        bad = int(np.count_nonzero(~np.isfinite(logits)))
        raise OutputsError(f"{where}: 'logits' holds {bad} NaN or infinite value(s); allowed: finite values")
    if labels.ndim != 1:
        raise OutputsError(f"{where}: 'labels' has shape {tuple(labels.shape)}; allowed: [N] = [{N}]")
    if not np.issubdtype(labels.dtype, np.integer):
        raise OutputsError(f"{where}: 'labels' has dtype {labels.dtype}; allowed: an integer dtype")
    if len(labels) != N:
        raise OutputsError(f"{where}: 'labels' has {len(labels)} entries but 'logits' has N = {N} inputs")
    if labels.min() < 0 or labels.max() >= C:
        raise OutputsError(
            f"{where}: 'labels' range over {labels.min()}..{labels.max()}; allowed: 0..{C - 1} (C = {C})"
        )
    return logits.astype(np.float32), labels.astype(np.int64)


def load_outputs(path: Path) -> Outputs:
    """Read and check one recorded-outputs .npz (see the module docstring)."""
    path = Path(path)
    if not path.is_file():
        raise OutputsError(f"{path}: no such file; expected an .npz with arrays 'logits' and 'labels'")
    if not zipfile.is_zipfile(path):  # np.load would take any other file for a pickle
        raise OutputsError(f"{path}: not a readable .npz (not a zip archive); save it with numpy.savez")
    try:
        with np.load(path, allow_pickle=False) as z:
            missing = [name for name in ARRAYS if name not in z.files]
            if missing:
                raise OutputsError(
                    f"{path}: no array {', '.join(repr(m) for m in missing)}; the .npz holds "
                    f"{', '.join(repr(f) for f in z.files) or 'nothing'}, needs 'logits' and 'labels'"
                )
            logits, labels = z["logits"], z["labels"]
    except (zipfile.BadZipFile, OSError, EOFError) as err:
        raise OutputsError(f"{path}: not a readable .npz ({err}); save it with numpy.savez") from err
    except ValueError as err:  # object arrays (pickles) are refused
        if isinstance(err, OutputsError):
            raise
        raise OutputsError(f"{path}: unreadable arrays ({err}); allowed: plain numeric arrays") from err
    logits, labels = check_outputs(logits, labels, str(path))
    return Outputs(path, logits, labels)


def check_companion(test: Outputs, other: Outputs, role: str) -> None:
    """A validation or training set must have the test set's T and C: the policies it tunes or calibrates
    run the same network."""
    if other.C != test.C:
        raise OutputsError(
            f"{other.path} ({role}): 'logits' has C = {other.C} classes but the test set {test.path} has "
            f"C = {test.C}; both must come from the same network"
        )
    if other.T != test.T:
        raise OutputsError(
            f"{other.path} ({role}): 'logits' has T = {other.T} timesteps but the test set {test.path} has "
            f"T = {test.T}; record both with the same T"
        )


def save_outputs(path: Path, logits, labels) -> None:
    """Check and write `logits [T, N, C]` and `labels [N]` (numpy arrays or CPU/GPU tensors) as the .npz
    `seenn evaluate` reads, atomically."""
    logits, labels = (x.detach().cpu().numpy() if hasattr(x, "detach") else x for x in (logits, labels))
    logits, labels = check_outputs(logits, labels, str(path))
    write_atomic(Path(path), lambda tmp: np.savez(tmp, logits=logits, labels=labels))
