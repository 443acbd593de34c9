"""Overlapping square patches of NHWC images: extraction and overlap-add folding.

The padding rule is the original IGNN's (`models/lib/ops.py: calc_padding`, `im2patch`,
`patch2im`): zero-pad so that (H - patch) is a multiple of the stride, putting the floor of half
the padding on top/left and the ceil on bottom/right. Folding sums the overlapping patches,
divides by how many patches cover each pixel, and crops the padding off again.
"""
import functools
from typing import Tuple

import jax
import jax.numpy as jnp
from jax import lax

Padding = Tuple[Tuple[int, int], Tuple[int, int]]


def _split(total: int) -> Tuple[int, int]:
    return total // 2, total - total // 2


def patch_padding(h: int, w: int, patch: int, stride: int) -> Padding:
    """((top, bottom), (left, right)) zero padding that makes the patch grid cover the image."""
    return _split(-(h - patch) % stride), _split(-(w - patch) % stride)


def patch_grid(h: int, w: int, patch: int, stride: int) -> Tuple[int, int]:
    """(rows, cols) of the patch grid that `extract_patches` gives for an h×w image."""
    (top, bottom), (left, right) = patch_padding(h, w, patch, stride)
    return ((h + top + bottom - patch) // stride + 1, (w + left + right - patch) // stride + 1)


@functools.partial(jax.jit, static_argnames=("patch", "stride"))
def extract_patches(x: jnp.ndarray, patch: int, stride: int) -> jnp.ndarray:
    """All patch×patch patches of x at the given stride, after `patch_padding`.

    x: (B, H, W, C) → (B, m1, m2, patch, patch, C); element [b, i, j, a, c, :] is
    padded_x[b, i*stride + a, j*stride + c, :].
    """
    b, h, w, c = x.shape
    pad = patch_padding(h, w, patch, stride)
    xp = jnp.pad(x, ((0, 0), *pad, (0, 0)))
    m1, m2 = patch_grid(h, w, patch, stride)
    rows = []
    for a in range(patch):
        cols = []
        for d in range(patch):
            cols.append(lax.slice(
                xp, (0, a, d, 0),
                (b, a + (m1 - 1) * stride + 1, d + (m2 - 1) * stride + 1, c),
                (1, stride, stride, 1)))
        rows.append(jnp.stack(cols, axis=3))
    return jnp.stack(rows, axis=3)


def _overlap_add(patches: jnp.ndarray, padded_hw: Tuple[int, int], stride: int) -> jnp.ndarray:
    """Sums patches (B, m1, m2, p, p, C) into a (B, Hp, Wp, C) canvas at their grid positions."""
    _, m1, m2, p, _, _ = patches.shape
    hp, wp = padded_hw
    zero = jnp.zeros((), patches.dtype)
    total = None
    for a in range(p):
        for d in range(p):
            # Interior padding spreads the m1×m2 values stride apart, edge padding offsets them.
            placed = lax.pad(patches[:, :, :, a, d, :], zero, (
                (0, 0, 0),
                (a, hp - a - (m1 - 1) * stride - 1, stride - 1),
                (d, wp - d - (m2 - 1) * stride - 1, stride - 1),
                (0, 0, 0)))
            total = placed if total is None else total + placed
    return total


@functools.partial(jax.jit, static_argnames=("out_hw", "stride", "padding"))
def fold_patches(patches: jnp.ndarray, out_hw: Tuple[int, int], stride: int,
                 padding: Padding) -> jnp.ndarray:
    """Inverse of `extract_patches`: overlap-add, divide by the cover count, crop the padding.

    patches: (B, m1, m2, p, p, C); out_hw: (H, W) of the unpadded image;
    padding: ((top, bottom), (left, right)) as from `patch_padding` → (B, H, W, C).
    """
    _, m1, m2, p, p2, _ = patches.shape
    (top, bottom), (left, right) = padding
    h, w = out_hw
    hp, wp = h + top + bottom, w + left + right
    if stride > p:
        raise ValueError(f"stride {stride} > patch {p} leaves pixels that no patch covers")
    if p != p2 or (hp - p) // stride + 1 != m1 or (wp - p) // stride + 1 != m2:
        raise ValueError(f"patches {patches.shape} do not tile {out_hw} with stride {stride} "
                         f"and padding {padding}")
    summed = _overlap_add(patches, (hp, wp), stride)
    counts = _overlap_add(jnp.ones((1, m1, m2, p, p, 1), patches.dtype), (hp, wp), stride)
    return (summed / counts)[:, top:top + h, left:left + w, :]
