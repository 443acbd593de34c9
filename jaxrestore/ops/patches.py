"""Overlapping square patches of NHWC images: extraction and overlap-add folding.

The padding rule is the original IGNN's (`models/lib/ops.py: calc_padding`, `im2patch`,
`patch2im`): zero-pad so that (H - patch) is a multiple of the stride, putting the floor of half
the padding on top/left and the ceil on bottom/right. Folding sums the overlapping patches,
divides by how many patches cover each pixel, and crops the padding off again.
"""
import functools
from typing import Callable, Tuple

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


def fold_blocks(block: Callable, grid: Tuple[int, int], patch: int, stride: int,
                out_hw: Tuple[int, int], padding: Padding) -> jnp.ndarray:
    """Folds a grid of patches given block by block: overlap-add, divide by the cover count,
    crop the padding → (B, H, W, D).

    Patches of side `patch` at `stride` split into blocks (bu, bv) of stride×stride pixels.
    block(bu, bv, rows, cols) gives block (bu, bv) of every patch (patch rows bu*stride ..
    bu*stride + rows - 1, rows ≤ stride where the patch ends; columns likewise) as
    (B, m1, rows, m2, cols, D); no patch-sized array need exist.
    """
    (top, bottom), (left, right) = padding
    h, w = out_hw
    padded_hw = (h + top + bottom, w + left + right)
    summed = _overlap_add_blocks(block, grid, patch, stride, padded_hw)
    counts = cover_count(grid, patch, stride, padded_hw).astype(summed.dtype)
    return (summed / counts)[:, top:top + h, left:left + w, :]


def cover_count(grid: Tuple[int, int], patch: int, stride: int,
                padded_hw: Tuple[int, int]) -> jnp.ndarray:
    """How many patches of a (m1, m2) grid cover each pixel of the padded canvas: (1, Hp, Wp, 1)."""
    ones = lambda bu, bv, rows, cols: jnp.ones((1, grid[0], rows, grid[1], cols, 1))  # noqa: E731
    return _overlap_add_blocks(ones, grid, patch, stride, padded_hw)


def _overlap_add_blocks(block, grid, patch, stride, padded_hw) -> jnp.ndarray:
    """The sum of `fold_blocks` on the padded (B, Hp, Wp, D) canvas: each block zero-padded to
    stride×stride, laid out as a band of the grid, shifted by (bu, bv) blocks; the overhang
    cropped."""
    (m1, m2), (hp, wp), t = grid, padded_hw, stride
    total = None
    for bu in range(-(-patch // t)):
        for bv in range(-(-patch // t)):
            rows, cols = min(t, patch - bu * t), min(t, patch - bv * t)
            part = jnp.pad(block(bu, bv, rows, cols),
                           ((0, 0), (0, 0), (0, t - rows), (0, 0), (0, t - cols), (0, 0)))
            band = part.reshape(part.shape[0], m1 * t, m2 * t, part.shape[-1])
            placed = lax.pad(band, jnp.zeros((), band.dtype),
                             ((0, 0, 0), (bu * t, hp - (bu + m1) * t, 0),
                              (bv * t, wp - (bv + m2) * t, 0), (0, 0, 0)))
            total = placed if total is None else total + placed
    return total


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
    block = lambda bu, bv, rows, cols: patches[  # noqa: E731
        :, :, :, bu * stride:bu * stride + rows, bv * stride:bv * stride + cols
    ].transpose(0, 1, 3, 2, 4, 5)
    return fold_blocks(block, (m1, m2), p, stride, out_hw, padding)
