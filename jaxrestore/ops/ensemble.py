"""x8 self-ensemble: the 8 dihedral transforms of NHWC images and their exact inverses.

Transform `i` in 0..7: for i >= 4 flip horizontally (reverse W) first, then rotate by
(i % 4) x 90 degrees counter-clockwise in the (H, W) plane (as `np.rot90(x, i % 4, axes=(1, 2))`).
Only indexing and axis swaps are used, so the functions work on NumPy and JAX arrays alike and
under jit. Odd rotations swap H and W: a jitted `fn` compiles for both orientations.
"""
NUM_TRANSFORMS = 8


def _check(x, i: int) -> None:
    if x.ndim != 4:
        raise ValueError(f"expected NHWC images, got shape {x.shape}")
    if not 0 <= i < NUM_TRANSFORMS:
        raise ValueError(f"dihedral transform index must be in 0..7, got {i}")


def _rot90(x, k: int):
    """Rotates (N, H, W, C) by k x 90 degrees counter-clockwise."""
    for _ in range(k % 4):
        x = x.swapaxes(1, 2)[:, ::-1]
    return x


def _hflip(x):
    return x[:, :, ::-1]


def dihedral(x, i: int):
    """(N, H, W, C) -> transform i of x: (N, H, W, C), or (N, W, H, C) for odd i."""
    _check(x, i)
    return _rot90(_hflip(x) if i >= 4 else x, i % 4)


def inverse_dihedral(y, i: int):
    """Undoes `dihedral(., i)`: inverse_dihedral(dihedral(x, i), i) == x."""
    _check(y, i)
    y = _rot90(y, -(i % 4))
    return _hflip(y) if i >= 4 else y


def self_ensemble(fn, x):
    """mean_i inverse_dihedral(fn(dihedral(x, i)), i) over the 8 transforms.

    fn: maps (N, h, w, C) images to (N, h*s, w*s, C') outputs (any geometry-preserving map).
    A model that derives further inputs from its image (IGNN's son image) derives them from
    each transformed copy.
    """
    total = None
    for i in range(NUM_TRANSFORMS):
        out = inverse_dihedral(fn(dihedral(x, i)), i)
        total = out if total is None else total + out
    return total / NUM_TRANSFORMS
