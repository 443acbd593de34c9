"""Bilinear demosaicing of the 3-channel masked RGGB mosaic, in JAX (jit/vmap/grad-able).

The same normalised convolution as `jaxrestore.data.degradations.bilinear_demosaic` (the
protocol's baseline), batched: demosaicing models take it as the base of their residual.
"""
import jax.numpy as jnp
from jax import lax

from jaxrestore.data.degradations import BILINEAR_KERNEL_G, BILINEAR_KERNEL_RB, bayer_mask


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
