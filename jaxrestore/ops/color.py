"""RGB <-> YCbCr, ITU-R BT.601 with MATLAB `rgb2ycbcr` coefficients.

Range convention (every function here):
- RGB: floats in [0, 1], or an integer array (uint8) in 0..255, which is divided by 255 first.
- YCbCr: floats in the 0..255 scale, never rounded: Y in [16, 235], Cb and Cr in [16, 240] for
  RGB in [0, 1]. (MATLAB returns [0, 1] for double input and rounds for uint8 input; we keep the
  0..255 float scale that the PSNR/SSIM-on-Y protocol uses.)

The functions use only array operators, so they work on NumPy arrays (float64 stays float64,
as the metrics need) and on JAX arrays under jit/vmap/grad (float32 stays float32).
Shapes: (..., 3) -> (..., 3), or (..., 1) for `rgb_to_y` and `rgb_to_luma`.

`rgb_to_luma` is the full-range luma of MATLAB `rgb2gray` (the same BT.601 weights, summing to
1, no offset): how grey benchmark sets are made from colour photos, and the channel a grey
model restores in a colour image (`jaxrestore.inference`).
"""
import numpy as np

# Rows: Y, Cb, Cr; columns: R, G, B in [0, 1]; outputs in the 0..255 scale.
YCBCR_FROM_RGB = np.array(
    [
        [65.481, 128.553, 24.966],
        [-37.797, -74.203, 112.0],
        [112.0, -93.786, -18.214],
    ]
)
YCBCR_OFFSET = np.array([16.0, 128.0, 128.0])
RGB_FROM_YCBCR = np.linalg.inv(YCBCR_FROM_RGB)
# MATLAB rgb2gray coefficients (first row of the inverse NTSC transform).
LUMA_FROM_RGB = np.array([0.298936021293775, 0.587043074451121, 0.114020904255103])


def _unit_rgb(rgb):
    """Integer images (0..255) -> floats in [0, 1]; float images pass through."""
    if rgb.shape[-1] != 3:
        raise ValueError(f"expected RGB with 3 channels in the last axis, got shape {rgb.shape}")
    if np.issubdtype(rgb.dtype, np.integer):
        return rgb / 255.0
    return rgb


def rgb_to_ycbcr(rgb):
    """(..., 3) RGB in [0, 1] (or uint8) -> (..., 3) YCbCr in the 0..255 scale."""
    return _unit_rgb(rgb) @ YCBCR_FROM_RGB.T + YCBCR_OFFSET


def rgb_to_y(rgb):
    """(..., 3) RGB in [0, 1] (or uint8) -> (..., 1) Y = 16 + 65.481 R + 128.553 G + 24.966 B."""
    return _unit_rgb(rgb) @ YCBCR_FROM_RGB[:1].T + YCBCR_OFFSET[:1]


def rgb_to_luma(rgb):
    """(..., 3) RGB -> (..., 1) luma 0.2989 R + 0.5870 G + 0.1140 B, in RGB's range (not
    rounded)."""
    if rgb.shape[-1] != 3:
        raise ValueError(f"expected RGB with 3 channels in the last axis, got shape {rgb.shape}")
    return rgb @ LUMA_FROM_RGB[:, None]


def ycbcr_to_rgb(ycbcr):
    """(..., 3) YCbCr in the 0..255 scale -> (..., 3) RGB in [0, 1] (not clipped)."""
    if ycbcr.shape[-1] != 3:
        raise ValueError(f"expected YCbCr with 3 channels in the last axis, got {ycbcr.shape}")
    return (ycbcr - YCBCR_OFFSET) @ RGB_FROM_YCBCR.T
