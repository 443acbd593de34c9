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


# Both directions work on stride×stride blocks: patch row a = bu*stride + v (v < stride) of grid
# row i is padded row (i + bu)*stride + v, so for a fixed bu the rows of all patches tile a
# contiguous band. That needs ceil(patch/stride)² slices or pads instead of patch².


@functools.partial(jax.jit, static_argnames=("patch", "stride"))
def extract_patches(x: jnp.ndarray, patch: int, stride: int) -> jnp.ndarray:
    """All patch×patch patches of x at the given stride, after `patch_padding`.

    x: (B, H, W, C) → (B, m1, m2, patch, patch, C); element [b, i, j, a, d, :] is
    padded_x[b, i*stride + a, j*stride + d, :].
    """
    b, h, w, c = x.shape
    m1, m2 = patch_grid(h, w, patch, stride)
    q, t = -(-patch // stride), stride
    (top, bottom), (left, right) = patch_padding(h, w, patch, stride)
    # Pad past the last patch so that every band below is whole; the extra rows are cropped.
    xp = jnp.pad(x, ((0, 0), (top, (m1 + q - 1) * t - h - top),
                     (left, (m2 + q - 1) * t - w - left), (0, 0)))
    bands = []
    for bu in range(q):  # band of patch rows bu*t .. bu*t + t - 1
        row = []
        for bv in range(q):
            block = xp[:, bu * t:(bu + m1) * t, bv * t:(bv + m2) * t, :]
            row.append(block.reshape(b, m1, t, m2, t, c).transpose(0, 1, 3, 2, 4, 5))
        bands.append(jnp.concatenate(row, axis=4))
    return jnp.concatenate(bands, axis=3)[:, :, :, :patch, :patch, :]


def overlap_add_bands(bands, padded_hw: Tuple[int, int], block: int) -> jnp.ndarray:
    """Sums bands[(bu, bv)] (B, m1*block, m2*block, C), each shifted down by bu and right by bv
    blocks, into a (B, Hp, Wp, C) canvas; what overhangs the canvas is cropped.

    A patch grid of stride `block` splits into blocks (bu, bv) of block×block pixels; the band
    of block (bu, bv) holds that block of every patch, in grid order.
    """
    hp, wp = padded_hw
    total = None
    for (bu, bv), band in bands.items():
        m1, m2 = band.shape[1] // block, band.shape[2] // block
        placed = lax.pad(band, jnp.zeros((), band.dtype),
                         ((0, 0, 0), (bu * block, hp - (bu + m1) * block, 0),
                          (bv * block, wp - (bv + m2) * block, 0), (0, 0, 0)))
        total = placed if total is None else total + placed
    return total


def _overlap_add(patches: jnp.ndarray, padded_hw: Tuple[int, int], stride: int) -> jnp.ndarray:
    """Sums patches (B, m1, m2, p, p, C) into a (B, Hp, Wp, C) canvas at their grid positions."""
    b, m1, m2, p, _, c = patches.shape
    q, t = -(-p // stride), stride
    bands = {}
    for bu in range(q):
        for bv in range(q):
            # Block (bu, bv) of each patch, zero-padded to t×t where the patch ends inside it.
            block = patches[:, :, :, bu * t:(bu + 1) * t, bv * t:(bv + 1) * t, :]
            block = jnp.pad(block, ((0, 0), (0, 0), (0, 0), (0, t - block.shape[3]),
                                    (0, t - block.shape[4]), (0, 0)))
            bands[bu, bv] = block.transpose(0, 1, 3, 2, 4, 5).reshape(b, m1 * t, m2 * t, c)
    return overlap_add_bands(bands, padded_hw, t)


def cover_count(grid: Tuple[int, int], patch: int, stride: int,
                padded_hw: Tuple[int, int]) -> jnp.ndarray:
    """How many patches of a (m1, m2) grid cover each pixel of the padded canvas: (1, Hp, Wp, 1)."""
    return _overlap_add(jnp.ones((1, *grid, patch, patch, 1)), padded_hw, stride)


def fold_patches(patches: jnp.ndarray, out_hw: Tuple[int, int], stride: int,
                 padding: Padding) -> jnp.ndarray:
    """Inverse of `extract_patches`: overlap-add, divide by the cover count, crop the padding.

    patches: (B, m1, m2, p, p, C); out_hw: (H, W) of the unpadded image;
    padding: ((top, bottom), (left, right)) as from `patch_padding` → (B, H, W, C).
    """
    (top, bottom), (left, right) = padding
    return _fold_patches(patches, (int(out_hw[0]), int(out_hw[1])), int(stride),
                         ((int(top), int(bottom)), (int(left), int(right))))


@functools.partial(jax.jit, static_argnames=("out_hw", "stride", "padding"))
def _fold_patches(patches, out_hw, stride, padding):
    _, m1, m2, p, p2, _ = patches.shape
    (top, bottom), (left, right) = padding
    h, w = out_hw
    hp, wp = h + top + bottom, w + left + right
    if stride > p:
        raise ValueError(f"stride {stride} > patch {p} leaves pixels that no patch covers")
    if p != p2 or (m1 - 1) * stride + p != hp or (m2 - 1) * stride + p != wp:
        raise ValueError(f"patches {patches.shape} do not tile {out_hw} with stride {stride} "
                         f"and padding {padding}")
    summed = _overlap_add(patches, (hp, wp), stride)
    counts = cover_count((m1, m2), p, stride, (hp, wp)).astype(patches.dtype)
    return (summed / counts)[:, top:top + h, left:left + w, :]
