"""Training augmentations on host NumPy images (HWC, any dtype).

Every transform is applied identically to all images of one example (input, target), so pairs
stay aligned. The pipeline draws the parameters from a per-example generator
(`random_augmentation`) and applies them with `apply_augmentation`.

- `dihedral(x, k)`: the 8 symmetries of the square. k = 4 * flip + rot: rotate by `rot`
  quarter turns counter-clockwise (np.rot90 on the H, W axes), then mirror left-right if `flip`.
  These are the flips, 90° rotations and transposes of EDSR/IGNN's `augment`
  (hflip, vflip, transpose) reached in a different order: the same group of 8.
- `permute_channels(x, perm)`: IGNN's `RandomColorChannel` (x[..., perm]).
"""
from typing import NamedTuple, Optional, Sequence

import numpy as np

IGNN_PERMUTATION_PROBABILITY = 0.8  # IGNN's RandomColorChannel leaves 20% of examples unchanged


def dihedral(x: np.ndarray, k: int) -> np.ndarray:
    """x (..., H, W, C) -> one of the 8 dihedral transforms, k in 0..7 (see module doc)."""
    if not 0 <= k < 8:
        raise ValueError(f"dihedral index must be in 0..7, got {k}")
    y = np.rot90(x, k % 4, axes=(-3, -2))
    if k >= 4:
        y = y[..., :, ::-1, :]
    return np.ascontiguousarray(y)


def permute_channels(x: np.ndarray, perm: Sequence[int]) -> np.ndarray:
    """x (..., C) -> x[..., perm]; perm is a permutation of range(C)."""
    return np.ascontiguousarray(x[..., list(perm)])


class Augmentation(NamedTuple):
    """Parameters of one example's augmentation: dihedral index and channel order (or None)."""
    k: int
    perm: Optional[tuple]


def random_augmentation(rng: np.random.Generator, channels: int,
                        channel_permutation: bool) -> Augmentation:
    """Draws a uniform dihedral index and, when enabled for colour images, IGNN's permutation:
    with probability 0.8 a uniformly random order of the channels (which may be the identity)."""
    k = int(rng.integers(8))
    perm = None
    if channel_permutation and channels > 1 and rng.random() < IGNN_PERMUTATION_PROBABILITY:
        perm = tuple(int(c) for c in rng.permutation(channels))
    return Augmentation(k, perm)


def apply_augmentation(x: np.ndarray, aug: Augmentation) -> np.ndarray:
    """x (H, W, C) -> the augmented image (same transform for every image of an example)."""
    y = dihedral(x, aug.k)
    if aug.perm is not None:
        y = permute_channels(y, aug.perm)
    return y
