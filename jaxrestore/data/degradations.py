"""Degradations of the field's protocols, as host NumPy functions (deterministic given a seed).

Images are HWC (or HW) NumPy arrays. Every rounding and clipping is a visible argument
(as BasicSR's degradations): nothing is clipped or rounded unless the protocol says so.

- SR: `modcrop`, `bicubic_pair` (MATLAB bicubic, uint8 rounding per pass).
- Denoising: `add_gaussian_noise` (clean in [0, 1] + N(0, (sigma/255)^2), unclipped).
- JPEG: `jpeg` (Pillow encoder/decoder in memory).
- Demosaicing: `bayer_mask` (from jaxrestore.ops.demosaic), `bayer_mosaic`, `mosaic_to_masked`, `bilinear_demosaic`.
"""
import io

import numpy as np
from PIL import Image

from jaxrestore.ops.demosaic import BILINEAR_KERNEL_G, BILINEAR_KERNEL_RB, bayer_mask
from jaxrestore.ops.imresize import imresize_np
from jaxrestore.ops.quantize import round_half_away


def modcrop(img: np.ndarray, scale: int) -> np.ndarray:
    """Crops (H, W[, C]) to the largest multiple of `scale` in H and W (top-left kept)."""
    h, w = img.shape[:2]
    return img[: h - h % scale, : w - w % scale]


def bicubic_pair(hr: np.ndarray, scale: int):
    """SR pair of the field's protocol: (modcrop(hr, s), MATLAB imresize by 1/s).

    hr: (H, W[, C]) uint8 → (hr_cropped (sH, sW[, C]) uint8, lr (H//s, W//s[, C]) uint8), with
    MATLAB's uint8 rounding after each 1-D pass (bit-exact with the published Set5 LR images).
    Float input gives a float LR (no rounding).
    """
    hr = modcrop(hr, scale)
    return hr, imresize_np(hr, 1 / scale)


def add_gaussian_noise(x: np.ndarray, sigma: float, seed, *, clip: bool = False,
                       rounds: bool = False) -> np.ndarray:
    """Adds white Gaussian noise N(0, (sigma/255)^2) to a clean float image in [0, 1].

    The noise is `np.random.default_rng(seed).standard_normal(x.shape) * sigma / 255` (seed 0
    is the test protocol; `seed` may also be a `np.random.Generator`, which is advanced).
    By default the result is neither clipped nor rounded (the protocol); `clip` clamps it to
    [0, 1], `rounds` quantises it to multiples of 1/255. Returns x's float dtype.
    """
    x = np.asarray(x)
    if not np.issubdtype(x.dtype, np.floating):
        raise ValueError(f"add_gaussian_noise expects a float image in [0, 1], got {x.dtype}")
    noise = np.random.default_rng(seed).standard_normal(x.shape) * (sigma / 255.0)
    out = x + noise
    if rounds:
        out = round_half_away(out * 255.0) / 255.0
    if clip:
        out = np.clip(out, 0.0, 1.0)
    return out.astype(x.dtype)


def jpeg(x: np.ndarray, quality: int) -> np.ndarray:
    """JPEG-compresses a uint8 image in memory with Pillow and decodes it.

    x: (H, W), (H, W, 1) grey or (H, W, 3) RGB uint8; quality in [1, 100]. Pillow's encoder
    (libjpeg standard tables scaled by quality; colour with 4:2:0 chroma subsampling, as
    OpenCV's default). Returns the decoded uint8 image of x's shape.
    """
    x = np.asarray(x)
    if x.dtype != np.uint8:
        raise ValueError(f"jpeg expects a uint8 image, got {x.dtype}")
    if not (x.ndim == 2 or (x.ndim == 3 and x.shape[2] in (1, 3))):
        raise ValueError(f"jpeg expects (H, W), (H, W, 1) or (H, W, 3), got {x.shape}")
    if not 1 <= int(quality) <= 100:
        raise ValueError(f"jpeg quality must be in [1, 100], got {quality}")
    gray = x.ndim == 2 or x.shape[2] == 1
    image = Image.fromarray(x.reshape(x.shape[:2]) if gray else x, "L" if gray else "RGB")
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", quality=int(quality))
    buffer.seek(0)
    return np.asarray(Image.open(buffer)).reshape(x.shape)


def bayer_mosaic(rgb: np.ndarray, pattern: str = "RGGB") -> np.ndarray:
    """Bayer mosaic of an RGB image: (H, W, 3) → (H, W, 1), the sampled colour at each site."""
    rgb = np.asarray(rgb)
    if rgb.ndim != 3 or rgb.shape[2] != 3:
        raise ValueError(f"bayer_mosaic expects (H, W, 3), got {rgb.shape}")
    mask = bayer_mask(rgb.shape[0], rgb.shape[1], pattern)
    return np.sum(np.where(mask, rgb, 0), axis=2, keepdims=True, dtype=rgb.dtype)


def mosaic_to_masked(mosaic: np.ndarray, pattern: str = "RGGB") -> np.ndarray:
    """3-channel masked form of a mosaic: (H, W[, 1]) → (H, W, 3), zero where not sampled."""
    mosaic = np.asarray(mosaic)
    plane = mosaic.reshape(mosaic.shape[:2] + (1,))
    mask = bayer_mask(mosaic.shape[0], mosaic.shape[1], pattern)
    return np.where(mask, plane, np.zeros((), mosaic.dtype))


def _correlate3x3_zero(img: np.ndarray, kernel: np.ndarray) -> np.ndarray:
    h, w = img.shape
    padded = np.pad(img, 1)
    return sum(kernel[i, j] * padded[i:i + h, j:j + w] for i in range(3) for j in range(3))


def bilinear_demosaic(mosaic: np.ndarray, pattern: str = "RGGB") -> np.ndarray:
    """Classical bilinear demosaicing as normalised convolution.

    mosaic: (H, W[, 1]) in any range → (H, W, 3) float64 in the same range. Each colour is
    (masked plane * K) / (mask * K) with K the bilinear kernels above and zero padding: in the
    interior this is the textbook bilinear demosaic (sampled values kept exactly, missing G the
    mean of 4 neighbours, missing R/B the mean of 2 or 4); at the borders only the existing
    neighbours are averaged.
    """
    mosaic = np.asarray(mosaic, np.float64)
    plane = mosaic.reshape(mosaic.shape[:2])
    if min(plane.shape) < 2:
        raise ValueError(f"bilinear_demosaic needs at least 2x2 pixels, got {mosaic.shape}")
    mask = bayer_mask(plane.shape[0], plane.shape[1], pattern)
    channels = []
    for c, kernel in enumerate((BILINEAR_KERNEL_RB, BILINEAR_KERNEL_G, BILINEAR_KERNEL_RB)):
        m = mask[..., c].astype(np.float64)
        channels.append(_correlate3x3_zero(plane * m, kernel) / _correlate3x3_zero(m, kernel))
    return np.stack(channels, axis=-1)
