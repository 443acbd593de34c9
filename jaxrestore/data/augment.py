"""Training augmentations on host NumPy images (HWC, any dtype).

Every transform is applied identically to all images of one example (input, target), so pairs
stay aligned. The pipeline draws the parameters from a per-example generator
(`random_augmentation`) and applies them with `apply_augmentation`.

- `dihedral(x, k)` (HWC or NHWC): the 8 symmetries of the square. k = 4 * flip + rot: rotate
  by `rot` quarter turns counter-clockwise (np.rot90 on the H, W axes), then mirror left-right
  if `flip`.
  These are the flips, 90° rotations and transposes of EDSR/IGNN's `augment`
  (hflip, vflip, transpose) reached in a different order: the same group of 8.
- `permute_channels(x, perm)`: IGNN's `RandomColorChannel` (x[..., perm]).
"""
from typing import NamedTuple, Optional, Sequence

import numpy as np

from jaxrestore.ops import ensemble

IGNN_PERMUTATION_PROBABILITY = 0.8  # IGNN's RandomColorChannel leaves 20% of examples unchanged


def dihedral(x: np.ndarray, k: int) -> np.ndarray:
    """x (H, W, C) or (N, H, W, C) -> one of the 8 dihedral transforms, k in 0..7 (module doc).

    `jaxrestore.ops.ensemble.dihedral` does the work; its transform i mirrors first and then
    rotates, and mirroring after a rotation by r equals rotating by -r after mirroring, hence
    the index map below.
    """
    if not 0 <= k < 8:
        raise ValueError(f"dihedral index must be in 0..7, got {k}")
    i = k if k < 4 else 4 + (-k) % 4
    batched = x if x.ndim == 4 else x[None]
    y = np.asarray(ensemble.dihedral(batched, i))
    return np.ascontiguousarray(y if x.ndim == 4 else y[0])


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
