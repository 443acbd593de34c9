"""Bayer masks and bilinear demosaicing of the 3-channel masked mosaic, in JAX (jit/vmap/grad-able).

The same normalised convolution as `jaxrestore.data.degradations.bilinear_demosaic` (the
protocol's baseline), batched: demosaicing models take it as the base of their residual.
"""
import jax.numpy as jnp
import numpy as np
from jax import lax

BAYER_PATTERNS = ("RGGB", "BGGR", "GRBG", "GBRG")

# Bilinear interpolation kernels: G from its 4 neighbours, R/B from 2 or 4 neighbours (here and in
# the NumPy baseline, jaxrestore.data.degradations.bilinear_demosaic).
BILINEAR_KERNEL_G = np.array([[0, 1, 0], [1, 4, 1], [0, 1, 0]], np.float64) / 4
BILINEAR_KERNEL_RB = np.array([[1, 2, 1], [2, 4, 2], [1, 2, 1]], np.float64) / 4


def bayer_mask(height: int, width: int, pattern: str = "RGGB") -> np.ndarray:
    """(height, width, 3) bool: True where the Bayer `pattern` samples R, G or B.

    `pattern` names the colours of the 2x2 tile in reading order: (0,0), (0,1), (1,0), (1,1).
    """
    if pattern not in BAYER_PATTERNS:
        raise ValueError(f"unknown Bayer pattern {pattern!r}; known: {', '.join(BAYER_PATTERNS)}")
    mask = np.zeros((height, width, 3), bool)
    for k, colour in enumerate(pattern):
        i, j = divmod(k, 2)
        mask[i::2, j::2, "RGB".index(colour)] = True
    return mask


def bilinear_demosaic_masked(x: jnp.ndarray, pattern: str = "RGGB") -> jnp.ndarray:
    """(B, H, W, 3) masked mosaic (`degradations.mosaic_to_masked` form, the pattern's phase at
    pixel (0, 0)) → (B, H, W, 3) bilinear estimate, x's dtype: sampled values kept, each missing
    colour the mean of its sampled neighbours (zero padding, only existing neighbours at borders).
    """
    if x.ndim != 4 or x.shape[-1] != 3:
        raise ValueError(f"bilinear_demosaic_masked expects (B, H, W, 3), got {x.shape}")
    mask = jnp.asarray(bayer_mask(x.shape[1], x.shape[2], pattern), x.dtype)
    kernel = jnp.asarray(jnp.stack([BILINEAR_KERNEL_RB, BILINEAR_KERNEL_G, BILINEAR_KERNEL_RB],
                                   axis=-1)[:, :, None, :], x.dtype)           # (3, 3, 1, 3)

    def correlate(image):
        return lax.conv_general_dilated(image, kernel, (1, 1), "SAME",
                                        dimension_numbers=("NHWC", "HWIO", "NHWC"),
                                        feature_group_count=3)

    return correlate(x * mask) / correlate(jnp.broadcast_to(mask, x.shape[1:])[None])
