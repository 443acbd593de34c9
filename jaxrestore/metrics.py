"""PSNR, SSIM and PSNR-B as the restoration literature computes them (contract: docs/metrics.md).

Every metric takes two images of the same shape, (H, W), (H, W, 1) or (H, W, 3), given as uint8
or as floats in [0, 1]. Floats are clamped to [0, 1], multiplied by 255 and rounded half up to
integers (as MATLAB's im2uint8), so every score is taken on the uint8 image a user would save.
All arithmetic is NumPy float64.

- `crop_border=k` drops k pixels from every border before scoring.
- `y_channel=True` scores the BT.601 Y channel (jaxrestore.ops.color.rgb_to_y, float, not
  rounded) of a 3-channel image; a 1-channel image is scored as it is.

Which metrics, crops and channels each task is scored on is the protocol's business
(`jaxrestore.protocol.score`).
"""
import numpy as np
import scipy.ndimage

from jaxrestore.ops.color import rgb_to_y
from jaxrestore.ops.quantize import unit_to_uint8

PEAK = 255.0
SSIM_WINDOW = 11
SSIM_SIGMA = 1.5
SSIM_K1 = 0.01
SSIM_K2 = 0.03
JPEG_BLOCK = 8


def to_uint8_scale(image) -> np.ndarray:
    """uint8, or float in [0, 1] (clamped, x255, rounded half up) -> float64 (H, W, C) in 0..255."""
    image = np.asarray(image)
    if image.ndim == 2:
        image = image[..., None]
    if image.ndim != 3:
        raise ValueError(f"expected an image of shape (H, W) or (H, W, C), got shape {image.shape}")
    if image.dtype == np.uint8:
        return image.astype(np.float64)
    if not np.issubdtype(image.dtype, np.floating):
        raise ValueError(
            f"expected a uint8 image or a float image in [0, 1], got dtype {image.dtype}"
        )
    if np.isnan(image).any():
        raise ValueError("image contains NaN")
    return unit_to_uint8(image).astype(np.float64)


def _prepare(a, b, crop_border: int, y_channel: bool):
    """Both images -> float64 (H', W', C') on the 0..255 scale, cropped, Y if asked."""
    a, b = np.asarray(a), np.asarray(b)
    if a.shape != b.shape:
        raise ValueError(f"images differ in shape: {a.shape} vs {b.shape}")
    a, b = to_uint8_scale(a), to_uint8_scale(b)
    if crop_border < 0:
        raise ValueError(f"crop_border must be >= 0, got {crop_border}")
    if crop_border:
        h, w = a.shape[:2]
        if h <= 2 * crop_border or w <= 2 * crop_border:
            raise ValueError(f"crop_border={crop_border} leaves nothing of a {h}x{w} image")
        a = a[crop_border:-crop_border, crop_border:-crop_border]
        b = b[crop_border:-crop_border, crop_border:-crop_border]
    if y_channel and a.shape[-1] == 3:
        a, b = rgb_to_y(a / PEAK), rgb_to_y(b / PEAK)
    elif y_channel and a.shape[-1] != 1:
        raise ValueError(f"y_channel needs 1 or 3 channels, got {a.shape[-1]}")
    return a, b


def _psnr_from_mse(mse: float) -> float:
    return float("inf") if mse == 0 else float(10.0 * np.log10(PEAK**2 / mse))


def psnr(a, b, crop_border: int = 0, y_channel: bool = False) -> float:
    """PSNR in dB with peak 255, MSE over all pixels and channels; identical images -> inf."""
    a, b = _prepare(a, b, crop_border, y_channel)
    return _psnr_from_mse(np.mean((a - b) ** 2))


def _gaussian_window() -> np.ndarray:
    """fspecial('gaussian', 11, 1.5) as a normalised 1-D factor (2-D window = outer product)."""
    x = np.arange(SSIM_WINDOW) - SSIM_WINDOW // 2
    g = np.exp(-(x**2) / (2 * SSIM_SIGMA**2))
    return g / g.sum()


def _filter_valid(image: np.ndarray, g: np.ndarray) -> np.ndarray:
    """(H, W) -> (H-10, W-10): separable correlation with the window, 'valid' region only."""
    r = g.size // 2
    rows = scipy.ndimage.correlate1d(image, g, axis=0)[r:-r]
    return scipy.ndimage.correlate1d(rows, g, axis=1)[:, r:-r]


def _ssim_channel(a: np.ndarray, b: np.ndarray) -> float:
    """Wang et al.'s ssim_index on one (H, W) channel in 0..255: mean of the valid SSIM map."""
    g = _gaussian_window()
    c1, c2 = (SSIM_K1 * PEAK) ** 2, (SSIM_K2 * PEAK) ** 2
    mu_a, mu_b = _filter_valid(a, g), _filter_valid(b, g)
    var_a = _filter_valid(a * a, g) - mu_a**2
    var_b = _filter_valid(b * b, g) - mu_b**2
    cov = _filter_valid(a * b, g) - mu_a * mu_b
    ssim_map = ((2 * mu_a * mu_b + c1) * (2 * cov + c2)) / (
        (mu_a**2 + mu_b**2 + c1) * (var_a + var_b + c2)
    )
    return float(ssim_map.mean())


def ssim(a, b, crop_border: int = 0, y_channel: bool = False) -> float:
    """SSIM (11x11 Gaussian, sigma 1.5, K1 .01, K2 .03, L 255, valid region), mean over channels."""
    a, b = _prepare(a, b, crop_border, y_channel)
    if min(a.shape[:2]) < SSIM_WINDOW:
        size = f"{SSIM_WINDOW}x{SSIM_WINDOW}"
        raise ValueError(f"SSIM needs at least {size} pixels, got {a.shape[0]}x{a.shape[1]}")
    return float(np.mean([_ssim_channel(a[..., c], b[..., c]) for c in range(a.shape[-1])]))


def blocking_effect_factor(image: np.ndarray) -> float:
    """BEF of one (H, W) channel (Yim & Bovik 2011, 8x8 blocks), in squared pixel units.

    Squared neighbour differences across block boundaries (between columns/rows 7|8, 15|16, ...)
    are averaged and compared with those inside blocks; BEF = log2(8) / log2(min(H, W)) times
    the excess, or 0 when boundaries are no rougher. The counts follow the reference code used
    by FBCNN/SwinIR (H * (W // 8 - 1) boundary pairs per direction), which assumes sizes that
    are multiples of 8; for other sizes we keep that formula so our numbers match theirs.
    """
    h, w = image.shape
    if min(h, w) < 2 * JPEG_BLOCK:
        size = f"{2 * JPEG_BLOCK}x{2 * JPEG_BLOCK}"
        raise ValueError(f"PSNR-B needs at least {size} pixels, got {h}x{w}")
    horizontal = (image[:, :-1] - image[:, 1:]) ** 2  # (H, W-1): column j vs j+1
    vertical = (image[:-1] - image[1:]) ** 2  # (H-1, W): row i vs i+1
    on_col = np.zeros(w - 1, bool)
    on_col[JPEG_BLOCK - 1 :: JPEG_BLOCK] = True
    on_row = np.zeros(h - 1, bool)
    on_row[JPEG_BLOCK - 1 :: JPEG_BLOCK] = True
    boundary_sum = horizontal[:, on_col].sum() + vertical[on_row].sum()
    inner_sum = horizontal[:, ~on_col].sum() + vertical[~on_row].sum()
    n_boundary = h * (w // JPEG_BLOCK - 1) + w * (h // JPEG_BLOCK - 1)
    n_inner = h * (w - 1) + w * (h - 1) - n_boundary
    boundary, inner = boundary_sum / n_boundary, inner_sum / n_inner
    if boundary <= inner:
        return 0.0
    return float(np.log2(JPEG_BLOCK) / np.log2(min(h, w)) * (boundary - inner))


def psnr_b(restored, target, crop_border: int = 0, y_channel: bool = False) -> float:
    """PSNR-B in dB: per channel 10 log10(255^2 / (MSE + BEF(restored))), mean over channels.

    Not symmetric: the blocking effect factor is measured on `restored` (the image under test,
    as Yim & Bovik and SwinIR's evaluation do).
    """
    a, b = _prepare(restored, target, crop_border, y_channel)
    scores = [
        _psnr_from_mse(np.mean((a[..., c] - b[..., c]) ** 2) + blocking_effect_factor(a[..., c]))
        for c in range(a.shape[-1])
    ]
    return float(np.mean(scores))
