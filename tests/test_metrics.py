"""PSNR / SSIM / PSNR-B against NumPy one-liners, scikit-image and hand-computed values."""
import io

import numpy as np
import pytest
from PIL import Image
from skimage.metrics import structural_similarity

from jaxrestore import metrics, protocol, tasks

RNG = np.random.default_rng(0)


def _one_liner_psnr(a, b):
    return 10 * np.log10(255.0**2 / np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2))


def _hand_y(rgb_uint8):
    x = rgb_uint8.astype(np.float64) / 255
    return 16 + 65.481 * x[..., 0] + 128.553 * x[..., 1] + 24.966 * x[..., 2]


def _skimage_ssim(a, b, channel_axis=None):
    return structural_similarity(a, b, gaussian_weights=True, sigma=1.5, use_sample_covariance=False,
                                 data_range=255, channel_axis=channel_axis)


def _smooth_pair(h, w, c, noise=12.0, seed=0):
    """A structured uint8 image (gradients + a disc) and a noisy copy."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[:h, :w]
    base = 60 + 0.8 * yy + 0.5 * xx + 80 * (((yy - h / 2) ** 2 + (xx - w / 3) ** 2) < (h / 4) ** 2)
    base = np.stack([base + 10 * k for k in range(c)], -1)
    a = np.clip(base, 0, 255).astype(np.uint8)
    b = np.clip(base + rng.normal(0, noise, base.shape), 0, 255).round().astype(np.uint8)
    return a, b


# ---- PSNR -------------------------------------------------------------------------------------

@pytest.mark.parametrize("shape", [(20, 17), (20, 17, 1), (20, 17, 3)])
def test_psnr_matches_numpy_one_liner(shape):
    a = RNG.integers(0, 256, shape, dtype=np.uint8)
    b = RNG.integers(0, 256, shape, dtype=np.uint8)
    assert metrics.psnr(a, b) == pytest.approx(_one_liner_psnr(a, b), abs=1e-12)


def test_psnr_y_channel_and_crop_match_one_liner():
    a = RNG.integers(0, 256, (24, 30, 3), dtype=np.uint8)
    b = RNG.integers(0, 256, (24, 30, 3), dtype=np.uint8)
    ya, yb = _hand_y(a)[3:-3, 3:-3], _hand_y(b)[3:-3, 3:-3]
    expected = 10 * np.log10(255.0**2 / np.mean((ya - yb) ** 2))
    assert metrics.psnr(a, b, crop_border=3, y_channel=True) == pytest.approx(expected, abs=1e-9)
    # One channel with y_channel: the channel itself is scored.
    g = a[..., :1]
    assert metrics.psnr(g, b[..., :1], y_channel=True) == pytest.approx(_one_liner_psnr(g, b[..., :1]))


def test_identical_images_give_inf():
    a = RNG.integers(0, 256, (9, 9, 3), dtype=np.uint8)
    assert metrics.psnr(a, a.copy()) == float("inf")
    ramp = (3 * np.add.outer(np.arange(24), np.arange(32))).astype(np.uint8)
    assert metrics.psnr_b(ramp, ramp.copy()) == float("inf")
    # PSNR-B of identical images is finite when the image itself is blocky (BEF > 0).
    blocky = np.kron(RNG.integers(0, 256, (3, 3)), np.ones((8, 8))).astype(np.uint8)
    assert np.isfinite(metrics.psnr_b(blocky, blocky.copy()))


def test_float_inputs_are_clamped_and_rounded_not_truncated():
    ones = np.ones((4, 4), np.uint8)
    # 0.5/255 * 255 = 0.5 exactly: rounds up to 1 (truncation would give 0).
    assert metrics.psnr(np.full((4, 4), 0.5 / 255), ones) == float("inf")
    assert metrics.psnr(np.full((4, 4), 0.5 / 255, np.float32), ones) == float("inf")
    assert metrics.psnr(np.full((4, 4), 1.49 / 255), ones) == float("inf")
    assert metrics.psnr(np.full((4, 4), 0.49 / 255), np.zeros((4, 4), np.uint8)) == float("inf")
    # 1.6/255 -> 2, one grey level off everywhere: 20 log10(255).
    assert metrics.psnr(np.full((4, 4), 1.6 / 255), ones) == pytest.approx(20 * np.log10(255.0))
    # Clamping: below 0 -> 0, above 1 -> 255.
    x = np.array([[-0.3, 1.7]])
    assert metrics.psnr(x, np.array([[0, 255]], np.uint8)) == float("inf")


def test_crop_border_removes_border_differences():
    a = RNG.integers(0, 256, (16, 20, 3), dtype=np.uint8)
    b = a.copy()
    b[:2] = 255 - b[:2]
    b[:, -2:] = 255 - b[:, -2:]
    assert np.isfinite(metrics.psnr(a, b))
    assert np.isfinite(metrics.psnr(a, b, crop_border=1))
    assert metrics.psnr(a, b, crop_border=2) == float("inf")
    assert metrics.ssim(a, b, crop_border=2) == pytest.approx(1.0)


def test_errors_are_clear():
    with pytest.raises(ValueError, match=r"\(8, 8, 3\) vs \(8, 9, 3\)"):
        metrics.psnr(np.zeros((8, 8, 3), np.uint8), np.zeros((8, 9, 3), np.uint8))
    with pytest.raises(ValueError, match="dtype int32"):
        metrics.psnr(np.zeros((8, 8), np.int32), np.zeros((8, 8), np.int32))
    with pytest.raises(ValueError, match="NaN"):
        metrics.psnr(np.full((8, 8), np.nan), np.zeros((8, 8)))
    with pytest.raises(ValueError, match="leaves nothing"):
        metrics.psnr(np.zeros((8, 8), np.uint8), np.zeros((8, 8), np.uint8), crop_border=4)
    with pytest.raises(ValueError, match="11x11"):
        metrics.ssim(np.zeros((10, 30), np.uint8), np.zeros((10, 30), np.uint8))


# ---- SSIM -------------------------------------------------------------------------------------

def test_ssim_gray_matches_scikit_image():
    a, b = _smooth_pair(40, 37, 1)
    expected = _skimage_ssim(a[..., 0].astype(np.float64), b[..., 0].astype(np.float64))
    assert metrics.ssim(a, b) == pytest.approx(expected, abs=1e-10)
    assert metrics.ssim(a[..., 0], b[..., 0]) == pytest.approx(expected, abs=1e-10)
    assert 0.2 < expected < 0.99  # a non-trivial value


def test_ssim_rgb_is_channel_mean_and_y_matches_scikit_image():
    a, b = _smooth_pair(40, 44, 3, seed=1)
    ca, cb = a[3:-3, 3:-3].astype(np.float64), b[3:-3, 3:-3].astype(np.float64)
    per_channel = [_skimage_ssim(ca[..., c], cb[..., c]) for c in range(3)]
    assert metrics.ssim(a, b, crop_border=3) == pytest.approx(np.mean(per_channel), abs=1e-10)
    ya, yb = _hand_y(a)[3:-3, 3:-3], _hand_y(b)[3:-3, 3:-3]
    assert metrics.ssim(a, b, crop_border=3, y_channel=True) == pytest.approx(
        _skimage_ssim(ya, yb), abs=1e-10)


def test_ssim_hand_computed_on_11x11():
    c1, c2 = (0.01 * 255) ** 2, (0.03 * 255) ** 2
    # Constant images: SSIM = (2 m n + C1) / (m^2 + n^2 + C1).
    a, b = np.full((11, 11), 100, np.uint8), np.full((11, 11), 110, np.uint8)
    assert metrics.ssim(a, b) == pytest.approx((2 * 100 * 110 + c1) / (100**2 + 110**2 + c1), abs=1e-12)
    # One centre pixel raised by d: with w0 = centre weight of the Gaussian window,
    # mu_b = 100 + w0 d, var_b = w0 d^2 - (w0 d)^2, cov = 0 (a is constant).
    d = 50.0
    b = a.copy()
    b[5, 5] += int(d)
    w0 = (1 / np.exp(-(np.arange(-5, 6) ** 2) / 4.5).sum()) ** 2
    mu_b, var_b = 100 + w0 * d, w0 * d**2 - (w0 * d) ** 2
    expected = (2 * 100 * mu_b + c1) / (100**2 + mu_b**2 + c1) * c2 / (var_b + c2)
    assert metrics.ssim(a, b) == pytest.approx(expected, abs=1e-12)


def test_ssim_on_real_image_pair(shared_data):
    hr = np.asarray(Image.open(shared_data / "Set5" / "butterfly.png").convert("RGB"))
    buffer = io.BytesIO()
    Image.fromarray(hr).save(buffer, format="JPEG", quality=20)
    degraded = np.asarray(Image.open(buffer).convert("RGB"))
    ca, cb = hr[4:-4, 4:-4].astype(np.float64), degraded[4:-4, 4:-4].astype(np.float64)
    expected = np.mean([_skimage_ssim(ca[..., c], cb[..., c]) for c in range(3)])
    assert metrics.ssim(hr, degraded, crop_border=4) == pytest.approx(expected, abs=1e-7)
    ya, yb = _hand_y(hr)[4:-4, 4:-4], _hand_y(degraded)[4:-4, 4:-4]
    assert metrics.ssim(hr, degraded, crop_border=4, y_channel=True) == pytest.approx(
        _skimage_ssim(ya, yb), abs=1e-7)
    assert metrics.psnr(hr, degraded, crop_border=4, y_channel=True) == pytest.approx(
        10 * np.log10(255.0**2 / np.mean((ya - yb) ** 2)), abs=1e-9)


# ---- PSNR-B -----------------------------------------------------------------------------------

def test_psnr_b_equals_psnr_without_blocking_excess():
    # A diagonal ramp has the same squared neighbour difference (9) everywhere, across and inside
    # blocks, in both directions: boundary mean = inner mean, so BEF = 0 by definition.
    restored = (3 * np.add.outer(np.arange(24), np.arange(32))).astype(np.uint8)
    target = np.clip(restored + RNG.integers(-5, 6, restored.shape), 0, 255).astype(np.uint8)
    assert metrics.psnr_b(restored, target) == pytest.approx(_one_liner_psnr(restored, target), abs=1e-12)


def test_psnr_b_hand_computed():
    # 16x16, left half 0, right half 10: one block boundary (columns 7|8) with squared step 100 in
    # each of 16 rows; no other differences. Boundary pairs: 16*(16//8-1) + 16*(16//8-1) = 32,
    # mean 1600/32 = 50; inner mean 0; BEF = log2(8)/log2(16) * 50 = 37.5. MSE vs zeros = 50.
    restored = np.zeros((16, 16), np.uint8)
    restored[:, 8:] = 10
    target = np.zeros((16, 16), np.uint8)
    assert metrics.psnr_b(restored, target) == pytest.approx(10 * np.log10(255.0**2 / 87.5), abs=1e-12)
    # BEF is taken on the first argument (the image under test): the flat target has none.
    assert metrics.psnr_b(target, restored) == pytest.approx(10 * np.log10(255.0**2 / 50), abs=1e-12)
    # Colour: per-channel PSNR-B averaged; a flat second channel contributes the plain PSNR.
    rgb_restored = np.stack([restored, np.full_like(restored, 4)], -1)
    rgb_target = np.zeros((16, 16, 2), np.uint8)
    expected = (10 * np.log10(255.0**2 / 87.5) + 10 * np.log10(255.0**2 / 16)) / 2
    assert metrics.psnr_b(rgb_restored, rgb_target) == pytest.approx(expected, abs=1e-12)


# ---- protocol ---------------------------------------------------------------------------------

def test_score_protocols():
    """protocol.score: SR on Y with a `scale` crop, other tasks on all channels, JPEG + PSNR-B."""
    target, restored = _smooth_pair(30, 34, 3, seed=2)
    sr = protocol.score(restored, target, tasks.SR(scale=3))
    ya, yb = _hand_y(restored)[3:-3, 3:-3], _hand_y(target)[3:-3, 3:-3]
    assert set(sr) == {"psnr", "ssim"}
    assert sr["psnr"] == pytest.approx(10 * np.log10(255.0**2 / np.mean((ya - yb) ** 2)), abs=1e-9)
    assert sr["ssim"] == pytest.approx(_skimage_ssim(ya, yb), abs=1e-10)
    dn = protocol.score(restored, target, tasks.Denoise(sigma=25))
    assert dn["psnr"] == pytest.approx(_one_liner_psnr(restored, target), abs=1e-12)
    gray_t, gray_r = target[..., 0], restored[..., 0]
    jp = protocol.score(gray_r / 255.0, gray_t, tasks.JPEG(channels=1, quality=10))
    assert set(jp) == {"psnr", "ssim", "psnr_b"}
    assert jp["psnr"] == pytest.approx(_one_liner_psnr(gray_r, gray_t), abs=1e-9)
    assert jp["ssim"] == pytest.approx(_skimage_ssim(gray_r.astype(float), gray_t.astype(float)), abs=1e-10)
    with pytest.raises(ValueError, match="unknown task"):
        tasks.make_task("deblur")
