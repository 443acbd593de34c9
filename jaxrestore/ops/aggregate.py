"""Cross-scale aggregation of IGNN: gather the k neighbour patches found by `windowed_knn` and
fold them into HR feature maps (sczhou/IGNN `GraphAggregation.forward`), plus the edge features
that feed its weight nets (`GraphConstruct.forward` with WITH_DIFF).

A query patch (i, j) of the LR grid (patch p, stride t) covers the HR patch of side p*s at HR
stride t*s; its neighbour n, a son-grid patch of the pixel-unshuffled features, holds exactly
p*p*s*s values per channel, which pixel-shuffle into that HR patch. Channel order of every output
is neighbour-major, (k, C), like the original's `view(b, k*c, H*s, W*s)`.
"""
import functools

import jax
import jax.numpy as jnp

from jaxrestore.ops.patches import extract_patches, fold_blocks, patch_grid, patch_padding
from jaxrestore.ops.pixel_shuffle import pixel_shuffle, repeat_pixels

ADAIN_EPS = 1e-5


def _gather(values: jnp.ndarray, idx: jnp.ndarray) -> jnp.ndarray:
    """values (B, n1, n2, ...) of a grid, idx (B, m1, m2, k) row-major → (B, m1, m2, k, ...)."""
    b, n1, n2 = values.shape[:3]
    flat = values.reshape((b, n1 * n2) + values.shape[3:])
    return jax.vmap(lambda f, i: f[i])(flat, idx)


def _check_grid(idx, grid, what):
    if tuple(idx.shape[1:3]) != tuple(grid):
        raise ValueError(f"idx grid {tuple(idx.shape[1:3])} != patch grid {tuple(grid)} of {what}")


def _fold_hr_blocks(block, lr_hw, scale, patch, stride):
    """`fold_blocks` of the HR patch grid of an LR h×w image → (B, h*s, w*s, D): HR patches of
    side p*s at stride t*s, padded as the LR grid scaled by s."""
    h, w = lr_hw
    (top, bottom), (left, right) = patch_padding(h, w, patch, stride)
    padding = ((top * scale, bottom * scale), (left * scale, right * scale))
    return fold_blocks(block, patch_grid(h, w, patch, stride), patch * scale, stride * scale,
                       (h * scale, w * scale), padding)


def _mean_std(values: jnp.ndarray, axes) -> tuple[jnp.ndarray, jnp.ndarray]:
    """AdaIN statistics over `axes`: the mean and sqrt(unbiased variance + 1e-5)."""
    return values.mean(axis=axes), jnp.sqrt(values.var(axis=axes, ddof=1) + ADAIN_EPS)


def _adain_affine(y, y_down, idx, scale, patch, stride):
    """Per-channel AdaIN of every neighbour to its query patch as z ↦ z * gain + shift.

    The neighbour (p*s × p*s values per channel) is normalised to the mean and std of the query
    patch (p × p), variances unbiased + 1e-5. Returns gain, shift (B, m1, m2, k, C), computed
    in float32 whatever the features' dtype (float64 features: in float64).
    """
    c = y.shape[-1]
    wide = jnp.promote_types(y.dtype, jnp.float32)                  # statistics ≥ float32
    y, y_down = y.astype(wide), y_down.astype(wide)
    query_mean, query_std = _mean_std(extract_patches(y, patch, stride), (3, 4))
    son = extract_patches(y_down, patch, stride)
    son = son.reshape(son.shape[:5] + (c, scale, scale))        # channel c*s*s + i*s + j
    son_mean, son_std = (_gather(v, idx) for v in _mean_std(son, (3, 4, 6, 7)))  # b m1 m2 k C
    gain = query_std[:, :, :, None] / son_std
    return gain, query_mean[:, :, :, None] - son_mean * gain


@functools.partial(jax.jit, static_argnames=("scale", "patch", "stride", "adain",
                                             "neighbours_in_batch"))
def cross_scale_aggregate(y: jnp.ndarray, y_down: jnp.ndarray, idx: jnp.ndarray, scale: int,
                          patch: int, stride: int, adain: bool = True,
                          neighbours_in_batch: bool = False) -> jnp.ndarray:
    """HR maps of every query's k neighbours (IGNN GraphAggregation).

    y: (B, H, W, C) LR features (queries); y_down: (B, H//s, W//s, C*s*s) their pixel-unshuffled
    copy, whose patch grid is the son grid that idx points into; idx: (B, m1, m2, k) int
    row-major son-grid indices (from `windowed_knn`); adain: normalise each neighbour to its query
    patch's per-channel mean/std. Returns (B, H*s, W*s, k*C), channel = neighbour*C + c (the
    original's layout), or with neighbours_in_batch (B*k, H*s, W*s, C), image b*k + neighbour
    (for convolutions of each neighbour's map, without a transpose).

    A son patch's p*p*s*s values per channel are the (p*s)² window of pixel_shuffle(y_down) at
    s × its son-grid position; each window is read straight into the HR canvas, one block of
    the HR patch grid (stride s*t) at a time, and the overlaps averaged.
    """
    b, h, w, c = y.shape
    k = idx.shape[-1]
    if y_down.shape[-1] != c * scale * scale:
        raise ValueError(f"y_down has {y_down.shape[-1]} channels, expected {c}*{scale}*{scale}")
    _check_grid(idx, patch_grid(h, w, patch, stride), "y")
    hd, wd = y_down.shape[1:3]
    (son_top, son_bottom), (son_left, son_right) = patch_padding(hd, wd, patch, stride)
    windows = jnp.pad(pixel_shuffle(y_down, scale),
                      ((0, 0), (son_top * scale, son_bottom * scale),
                       (son_left * scale, son_right * scale), (0, 0)))
    son_cols = patch_grid(hd, wd, patch, stride)[1]
    hr_stride = stride * scale
    corner = jnp.stack([idx // son_cols, idx % son_cols], -1) * hr_stride  # b m1 m2 k 2
    corner = jnp.moveaxis(corner, 3, 1)                                     # b k m1 m2 2
    if adain:
        gain, shift = (jnp.moveaxis(v, 3, 1)[:, :, :, None, :, None]        # b k m1 1 m2 1 C
                       for v in _adain_affine(y, y_down, idx, scale, patch, stride))

    def block(bu, bv, rows, cols):  # rows bu*T .. of every neighbour's window, T = s*t
        part = _read_windows(windows, corner + jnp.array([bu, bv]) * hr_stride, (rows, cols))
        if adain:  # in float32 (AdaIN's gain can be large), back in the features' dtype
            part = (part * gain + shift).astype(y.dtype)                    # b k m1 r m2 c C
        if neighbours_in_batch:
            return part.reshape((b * k,) + part.shape[2:])
        return part.transpose(0, 2, 3, 4, 5, 1, 6).reshape(
            b, idx.shape[1], rows, idx.shape[2], cols, k * c)

    return _fold_hr_blocks(block, (h, w), scale, patch, stride)


def _read_windows(images: jnp.ndarray, corners: jnp.ndarray, size) -> jnp.ndarray:
    """images (B, H, W, C), corners (B, k, m1, m2, 2) → windows (B, k, m1, rows, m2, cols, C).

    One gather of C-vectors whose indices are already in the output's order (a gather of
    windows would come out as (…, m1, m2, rows, cols, C) and need a transposed copy). Corners
    that would put a window outside the image are clamped, so an index outside the son grid
    cannot read outside memory.
    """
    rows, cols = size
    _, height, width, c = images.shape
    top = jnp.clip(corners[..., 0], 0, height - rows)[:, :, :, None, :, None]
    left = jnp.clip(corners[..., 1], 0, width - cols)[:, :, :, None, :, None]
    pixel = ((top + jnp.arange(rows)[:, None, None]) * width        # b k m1 rows m2 cols
             + left + jnp.arange(cols))
    return jax.vmap(lambda image, i: image.reshape(-1, c)[i])(images, pixel)


@functools.partial(jax.jit, static_argnames=("scale", "patch", "stride"))
def edge_features(query_emb: jnp.ndarray, database_emb: jnp.ndarray, idx: jnp.ndarray,
                  scale: int, patch: int, stride: int) -> jnp.ndarray:
    """IGNN's diff_patch: |query patch - neighbour patch| summed over the patch, spread to HR.

    query_emb: (B, H, W, E) LR embedding; database_emb: (B, Hd, Wd, E) son embedding;
    idx: (B, m1, m2, k) as from `windowed_knn`. Returns (B, H*s, W*s, k*E), channel = neighbour*E
    + e; every HR pixel averages the values of the query patches covering it. HR pixel y is
    covered by exactly the patches that cover LR pixel y // s, so the result is the scale-1
    map with each pixel repeated s×s (`repeat_pixels`), and is computed so.
    """
    b, h, w, e = query_emb.shape
    k = idx.shape[-1]
    q = extract_patches(query_emb, patch, stride)
    _check_grid(idx, q.shape[1:3], "query_emb")
    nbrs = _gather(extract_patches(database_emb, patch, stride), idx)
    m1, m2 = idx.shape[1:3]
    diff = jnp.abs(q[:, :, :, None] - nbrs).sum(axis=(4, 5)).reshape(b, m1, m2, k * e)
    spread = lambda bu, bv, rows, cols: jnp.broadcast_to(  # noqa: E731
        diff[:, :, None, :, None], (b, m1, rows, m2, cols, k * e))
    return repeat_pixels(_fold_hr_blocks(spread, (h, w), 1, patch, stride), scale)
