"""scikit-learn's bundled digits (1,797 real 8x8 handwritten digits) as a small, offline image set.

The images ship with scikit-learn, so nothing is downloaded. Pixel values 0..16 are scaled to [0, 1] and
laid out as `[N, 1, 8, 8]` (one channel, like the static-image input of a spiking net); the split is a
fixed, seeded, stratified one so that every class keeps its share in both halves.
"""

import numpy as np
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split

# sklearn's digits are 4-bit counts of set pixels in 4x4 blocks of a 32x32 bitmap: 0..16.
_MAX_PIXEL = 16.0


def load_digits_split(
    test_fraction: float = 0.3, seed: int = 0
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Load sklearn's digits and split them into a stratified train and test set.

    Args:
        test_fraction: Share of the 1,797 images that goes to the test set, strictly between 0 and 1.
        seed: `random_state` of the split; equal seeds give identical splits.

    Returns:
        `x_train [N_train, 1, 8, 8]`, `y_train [N_train]`, `x_test [N_test, 1, 8, 8]`, `y_test [N_test]`;
        images float32 in [0, 1], labels int64 in 0..9.

    Raises:
        ValueError: If `test_fraction` is not strictly between 0 and 1.
    """
    if not 0.0 < test_fraction < 1.0:
        raise ValueError(f"test_fraction must be in the open interval (0, 1), got {test_fraction!r}")
    bunch = load_digits()
    images = (bunch.images / _MAX_PIXEL).astype(np.float32)[:, None, :, :]  # [N, 1, 8, 8]
    labels = bunch.target.astype(np.int64)  # [N]
    x_train, x_test, y_train, y_test = train_test_split(
        images, labels, test_size=test_fraction, stratify=labels, random_state=seed
    )
    return x_train, y_train, x_test, y_test
