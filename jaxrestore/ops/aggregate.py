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

from jaxrestore.ops.patches import extract_patches, fold_patches, patch_padding

ADAIN_EPS = 1e-5


def _gather(patches: jnp.ndarray, idx: jnp.ndarray) -> jnp.ndarray:
    """patches (B, n1, n2, p, p, D), idx (B, m1, m2, k) row-major → (B, m1, m2, k, p, p, D)."""
    b, n1, n2 = patches.shape[:3]
    flat = patches.reshape((b, n1 * n2) + patches.shape[3:])
    return jax.vmap(lambda f, i: f[i])(flat, idx)


def _check_grid(idx, grid, what):
    if tuple(idx.shape[1:3]) != tuple(grid):
        raise ValueError(f"idx grid {tuple(idx.shape[1:3])} != patch grid {tuple(grid)} of {what}")


def _fold_hr(hr_patches, lr_hw, scale, patch, stride):
    """Folds (B, m1, m2, p*s, p*s, D) HR patches of an LR h×w patch grid → (B, h*s, w*s, D)."""
    h, w = lr_hw
    (top, bottom), (left, right) = patch_padding(h, w, patch, stride)
    padding = ((top * scale, bottom * scale), (left * scale, right * scale))
    return fold_patches(hr_patches, (h * scale, w * scale), stride * scale, padding)


def _adain(z: jnp.ndarray, center: jnp.ndarray) -> jnp.ndarray:
    """Per-channel AdaIN of neighbours to their query patch (unbiased variance + 1e-5).

    z (B, m1, m2, k, p, p, C, s, s) neighbour values; center (B, m1, m2, p, p, C) query patch.
    """
    c_mean = center.mean(axis=(3, 4))[:, :, :, None, None, None, :, None, None]
    c_std = jnp.sqrt(center.var(axis=(3, 4), ddof=1) + ADAIN_EPS)[:, :, :, None, None, None, :,
                                                                  None, None]
    axes = (4, 5, 7, 8)
    z_mean = z.mean(axis=axes, keepdims=True)
    z_std = jnp.sqrt(z.var(axis=axes, ddof=1, keepdims=True) + ADAIN_EPS)
    return (z - z_mean) / z_std * c_std + c_mean


@functools.partial(jax.jit, static_argnames=("scale", "patch", "stride", "adain"))
def cross_scale_aggregate(y: jnp.ndarray, y_down: jnp.ndarray, idx: jnp.ndarray, scale: int,
                          patch: int, stride: int, adain: bool = True) -> jnp.ndarray:
    """HR maps of every query's k neighbours (IGNN GraphAggregation).

    y: (B, H, W, C) LR features (queries); y_down: (B, H//s, W//s, C*s*s) their pixel-unshuffled
    copy, whose patch grid is the son grid that idx points into; idx: (B, m1, m2, k) int
    row-major son-grid indices (from `windowed_knn`); adain: normalise each neighbour to its query
    patch's per-channel mean/std. Returns (B, H*s, W*s, k*C), channel = neighbour*C + c.
    """
    b, h, w, c = y.shape
    k = idx.shape[-1]
    if y_down.shape[-1] != c * scale * scale:
        raise ValueError(f"y_down has {y_down.shape[-1]} channels, expected {c}*{scale}*{scale}")
    y_patches = extract_patches(y, patch, stride)
    _check_grid(idx, y_patches.shape[1:3], "y")
    z = _gather(extract_patches(y_down, patch, stride), idx)
    z = z.reshape(z.shape[:6] + (c, scale, scale))  # PyTorch order: channel c*s*s + i*s + j
    if adain:
        z = _adain(z, y_patches)
    m1, m2 = idx.shape[1:3]
    # (B, m1, m2, k, pa, pb, C, i, j) → HR patch row pa*s + i, column pb*s + j.
    hr = z.transpose(0, 1, 2, 4, 7, 5, 8, 3, 6).reshape(
        b, m1, m2, patch * scale, patch * scale, k * c)
    return _fold_hr(hr, (h, w), scale, patch, stride)


@functools.partial(jax.jit, static_argnames=("scale", "patch", "stride"))
def edge_features(query_emb: jnp.ndarray, database_emb: jnp.ndarray, idx: jnp.ndarray,
                  scale: int, patch: int, stride: int) -> jnp.ndarray:
    """IGNN's diff_patch: |query patch - neighbour patch| summed over the patch, spread to HR.

    query_emb: (B, H, W, E) LR embedding; database_emb: (B, Hd, Wd, E) son embedding;
    idx: (B, m1, m2, k) as from `windowed_knn`. Returns (B, H*s, W*s, k*E), channel = neighbour*E
    + e; every HR pixel averages the values of the query patches covering it.
    """
    b, h, w, e = query_emb.shape
    k = idx.shape[-1]
    q = extract_patches(query_emb, patch, stride)
    _check_grid(idx, q.shape[1:3], "query_emb")
    nbrs = _gather(extract_patches(database_emb, patch, stride), idx)
    diff = jnp.abs(q[:, :, :, None] - nbrs).sum(axis=(4, 5))  # (B, m1, m2, k, E)
    m1, m2 = idx.shape[1:3]
    ps = patch * scale
    spread = jnp.broadcast_to(diff.reshape(b, m1, m2, 1, 1, k * e), (b, m1, m2, ps, ps, k * e))
    return _fold_hr(spread, (h, w), scale, patch, stride)
