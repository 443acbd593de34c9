"""Degradations: SR pairs, IGNN's son image (computed by the model), Gaussian noise, JPEG,
Bayer mosaic and demosaic."""
import numpy as np
import pytest
from PIL import Image
from skimage import data as skdata

from jaxrestore.data.degradations import (
    add_gaussian_noise, bayer_mask, bayer_mosaic, bicubic_pair, bilinear_demosaic, jpeg,
    modcrop, mosaic_to_masked)
from jaxrestore.models.ignn import son_image
from jaxrestore.ops.imresize import imresize_np


def test_modcrop_keeps_top_left_multiple():
    img = np.arange(7 * 10 * 3).reshape(7, 10, 3)
    np.testing.assert_array_equal(modcrop(img, 3), img[:6, :9])
    np.testing.assert_array_equal(modcrop(img[..., 0], 2), img[:6, :10, 0])
    assert modcrop(img, 1).shape == img.shape


def test_bicubic_pair_shapes_and_dtype():
    hr = np.random.default_rng(0).integers(0, 256, (14, 11, 3), dtype=np.uint8)
    hr_c, lr = bicubic_pair(hr, 3)
    assert hr_c.shape == (12, 9, 3) and lr.shape == (4, 3, 3) and lr.dtype == np.uint8
    np.testing.assert_array_equal(hr_c, hr[:12, :9])
    flat = np.full((8, 8), 200, np.uint8)
    np.testing.assert_array_equal(bicubic_pair(flat, 4)[1], np.full((2, 2), 200))


def test_bicubic_pair_reproduces_published_lr(shared_data):
    hr = np.asarray(Image.open(shared_data / "Set5" / "woman.png").convert("RGB"))
    lr_ref = np.asarray(Image.open(shared_data / "Set5_LR_bicubic" / "X3" / "womanx3.png"))
    hr_c, lr = bicubic_pair(hr, 3)
    assert hr_c.shape == (342, 228, 3)
    np.testing.assert_array_equal(lr, lr_ref)


def test_son_image_is_float_imresize_clamped_not_rounded():
    lr = np.zeros((9, 21, 3), np.uint8)
    lr[:, 10:] = 255  # a step edge: the kernel's negative lobes overshoot on both sides
    lr[:, 10:, 1] = 200
    son = np.asarray(son_image(lr[None].astype(np.float32), 2)[0])
    assert son.shape == (4, 10, 3) and son.dtype == np.float32  # modcropped to 8 x 20 first
    unclamped = imresize_np(lr[:8, :20].astype(np.float64) / 255, 0.5) * 255
    assert unclamped.max() > 255 and unclamped.min() < 0  # so the clamp is exercised
    np.testing.assert_allclose(son, np.clip(unclamped, 0, 255), atol=1e-3)
    assert np.any(np.abs(son - np.round(son)) > 0.01)  # not rounded
    rounded_u8 = imresize_np(lr[:8, :20], 0.5)  # the uint8 path would be a different image
    assert np.abs(son - rounded_u8).max() > 0.01
    # Unit-range variant: same image / 255.
    unit = son_image(lr[None].astype(np.float32) / 255, 2, pixel_range=1.0)[0]
    np.testing.assert_allclose(unit, son / 255, atol=1e-5)


def test_gaussian_noise_statistics_and_protocol():
    x = np.full((256, 256), 0.5, np.float32)
    noisy = add_gaussian_noise(x, 25, seed=0)
    assert noisy.dtype == np.float32 and noisy.shape == x.shape
    residual = noisy.astype(np.float64) - 0.5
    assert abs(residual.mean()) < 0.002
    assert abs(residual.std() - 25 / 255) < 0.002
    # Protocol: the draws of np.random.default_rng(seed).standard_normal, scaled by sigma / 255.
    expected = 0.5 + np.random.default_rng(0).standard_normal(x.shape) * 25 / 255
    np.testing.assert_allclose(noisy, expected, atol=1e-6)


def test_gaussian_noise_deterministic_by_seed():
    x = np.random.default_rng(5).random((16, 16, 3))
    np.testing.assert_array_equal(add_gaussian_noise(x, 15, 3), add_gaussian_noise(x, 15, 3))
    assert not np.array_equal(add_gaussian_noise(x, 15, 3), add_gaussian_noise(x, 15, 4))


def test_gaussian_noise_unclipped_unrounded_by_default_with_switches():
    x = np.zeros((64, 64))
    noisy = add_gaussian_noise(x, 50, 0)
    assert noisy.min() < 0 and np.any(np.abs(noisy * 255 - np.round(noisy * 255)) > 1e-3)
    clipped = add_gaussian_noise(x, 50, 0, clip=True)
    np.testing.assert_array_equal(clipped, np.clip(noisy, 0, 1))
    quantised = add_gaussian_noise(x, 50, 0, rounds=True)
    np.testing.assert_allclose(quantised * 255, np.round(noisy * 255), atol=1e-9)
    with pytest.raises(ValueError, match="float"):
        add_gaussian_noise(np.zeros((4, 4), np.uint8), 25, 0)


@pytest.fixture(scope="module")
def photo():
    return skdata.astronaut()[100:228, 150:278]  # (128, 128, 3) uint8


@pytest.mark.parametrize("layout", ["gray", "gray1", "rgb"])
def test_jpeg_round_trip_shape_dtype_and_quality_order(photo, layout):
    gray = np.asarray(Image.fromarray(photo).convert("L"))
    x = {"gray": gray, "gray1": gray[..., None], "rgb": photo}[layout]
    errors = {}
    for q in (10, 40):
        y = jpeg(x, q)
        assert y.shape == x.shape and y.dtype == np.uint8
        errors[q] = np.mean((y.astype(np.float64) - x) ** 2)
    assert errors[10] > 1.5 * errors[40] > 0


def test_jpeg_rejects_bad_input():
    with pytest.raises(ValueError, match="uint8"):
        jpeg(np.zeros((8, 8)), 10)
    with pytest.raises(ValueError, match="shape|H, W"):
        jpeg(np.zeros((8, 8, 4), np.uint8), 10)


def test_bayer_mosaic_picks_the_right_channel():
    rgb = np.arange(2 * 2 * 3).reshape(2, 2, 3)  # value = 6 i + 3 j + c
    # RGGB: (0,0) R, (0,1) G, (1,0) G, (1,1) B.
    np.testing.assert_array_equal(bayer_mosaic(rgb)[..., 0], [[0, 4], [7, 11]])
    # GBRG on 4x4: (0,0) G, (0,1) B, (1,0) R, (1,1) G, repeating.
    rgb4 = np.arange(4 * 4 * 3, dtype=np.uint8).reshape(4, 4, 3)
    mosaic = bayer_mosaic(rgb4, "GBRG")
    assert mosaic.shape == (4, 4, 1) and mosaic.dtype == np.uint8
    channel = np.array([[1, 2], [0, 1]])
    for i in range(4):
        for j in range(4):
            assert mosaic[i, j, 0] == rgb4[i, j, channel[i % 2, j % 2]]


def test_mask_and_masked_form():
    mask = bayer_mask(3, 3, "RGGB")
    assert mask.sum(axis=2).tolist() == [[1] * 3] * 3
    assert mask[:, :, 1].sum() == 4 and mask[0, 0, 0] and mask[1, 1, 2] and mask[2, 2, 0]
    rgb = np.random.default_rng(2).random((4, 6, 3))
    masked = mosaic_to_masked(bayer_mosaic(rgb))
    np.testing.assert_array_equal(masked, np.where(bayer_mask(4, 6), rgb, 0))
    with pytest.raises(ValueError, match="pattern"):
        bayer_mask(2, 2, "RGBG")


def test_bilinear_demosaic_hand_computed_4x4():
    m = np.array([[1.0, 2, 3, 4], [5, 6, 7, 8], [9, 10, 11, 12], [13, 14, 15, 16]]) ** 2
    # RGGB sites: R (even, even), G (even, odd) and (odd, even), B (odd, odd).
    out = bilinear_demosaic(m[..., None])
    assert out.shape == (4, 4, 3)
    # B site (1,1): R = mean of 4 diagonals, G = mean of 4 neighbours, B sampled.
    np.testing.assert_allclose(out[1, 1], [(m[0, 0] + m[0, 2] + m[2, 0] + m[2, 2]) / 4,
                                           (m[0, 1] + m[1, 0] + m[1, 2] + m[2, 1]) / 4, m[1, 1]])
    # G site (1,2) in a B row: R from above/below, B from left/right.
    np.testing.assert_allclose(out[1, 2], [(m[0, 2] + m[2, 2]) / 2, m[1, 2],
                                           (m[1, 1] + m[1, 3]) / 2])
    # G site (2,1) in an R row: R from left/right, B from above/below.
    np.testing.assert_allclose(out[2, 1], [(m[2, 0] + m[2, 2]) / 2, m[2, 1],
                                           (m[1, 1] + m[3, 1]) / 2])
    # Border sites average only the neighbours that exist.
    np.testing.assert_allclose(out[0, 0], [m[0, 0], (m[0, 1] + m[1, 0]) / 2, m[1, 1]])
    np.testing.assert_allclose(out[0, 1], [(m[0, 0] + m[0, 2]) / 2, m[0, 1], m[1, 1]])
    np.testing.assert_allclose(out[3, 3], [m[2, 2], (m[2, 3] + m[3, 2]) / 2, m[3, 3]])
    np.testing.assert_allclose(out[3, 0], [(m[2, 0]), m[3, 0], (m[3, 1])])


def test_bilinear_demosaic_recovers_smooth_images():
    flat = np.ones((5, 7, 3)) * [0.2, 0.5, 0.9]
    np.testing.assert_allclose(bilinear_demosaic(bayer_mosaic(flat)), flat, atol=1e-12)
    ii, jj = np.mgrid[0:8, 0:8]
    ramp = np.stack([ii + 2 * jj, 3 * ii - jj, ii + jj], axis=-1).astype(np.float64)
    out = bilinear_demosaic(bayer_mosaic(ramp, "BGGR"), "BGGR")
    np.testing.assert_allclose(out[1:-1, 1:-1], ramp[1:-1, 1:-1], atol=1e-12)  # linear is exact
