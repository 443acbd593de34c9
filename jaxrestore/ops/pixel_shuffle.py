"""Pixel shuffle (depth to space) and its inverse in PyTorch's channel order, NHWC; pixel repeat.

Input channel `c*r*r + i*r + j` of `pixel_shuffle` becomes output channel `c` at row offset `i`
and column offset `j` inside each r×r block (torch.nn.PixelShuffle). This is not the order of
TF's depth_to_space / dm_pix, whose channel index is `(i*r + j)*C + c`.
"""
import jax.numpy as jnp


def pixel_shuffle(x: jnp.ndarray, r: int) -> jnp.ndarray:
    """(B, h, w, C*r*r) → (B, h*r, w*r, C), PyTorch order."""
    b, h, w, crr = x.shape
    if crr % (r * r):
        raise ValueError(f"pixel_shuffle: {crr} channels is not a multiple of {r}*{r}")
    c = crr // (r * r)
    x = x.reshape(b, h, w, c, r, r)
    return x.transpose(0, 1, 4, 2, 5, 3).reshape(b, h * r, w * r, c)


def pixel_unshuffle(x: jnp.ndarray, r: int) -> jnp.ndarray:
    """(B, H, W, C) → (B, H//r, W//r, C*r*r), the exact inverse of `pixel_shuffle`.

    H and W are first cropped (bottom/right) to multiples of r, as IGNN's PixelShuffle_Down.
    """
    b, h, w, c = x.shape
    h, w = h // r, w // r
    x = x[:, :h * r, :w * r, :].reshape(b, h, r, w, r, c)
    return x.transpose(0, 1, 3, 5, 2, 4).reshape(b, h, w, c * r * r)


def repeat_pixels(x: jnp.ndarray, r: int) -> jnp.ndarray:
    """Nearest-neighbour upsampling: (B, h, w, ...) → (B, h*r, w*r, ...), each pixel an r×r block."""
    return jnp.repeat(jnp.repeat(x, r, axis=1), r, axis=2)
