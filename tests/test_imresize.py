"""MATLAB bicubic imresize: hand-derived kernel values, published LR images, jit/vmap/grad.

Oracles: Keys' kernel written out here in its general-a form (never the module's weights),
numbers computed by hand from it, and MATLAB's published Set5 LR images.
"""
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from PIL import Image

from jaxrestore.ops.imresize import imresize, imresize_np

SET5 = ("baby", "bird", "butterfly", "head", "woman")


def keys(t, a=-0.5):
    """Keys (1981) cubic convolution kernel, general form."""
    t = abs(t)
    if t <= 1:
        return (a + 2) * t**3 - (a + 3) * t**2 + 1
    if t < 2:
        return a * t**3 - 5 * a * t**2 + 8 * a * t - 4 * a
    return 0.0


# Keys(0.25), Keys(0.75), Keys(1.25), Keys(1.75) by hand (a = -0.5):
K025, K075, K125, K175 = 0.8671875, 0.2265625, -0.0703125, -0.0234375


def resize_1d(signal, **kwargs):
    """Resizes a 1-D signal along H (as an H x 1 image) with both paths; checks they agree."""
    x = np.asarray(signal, np.float64)[:, None]
    host = imresize_np(x, **kwargs)[:, 0]
    device = np.asarray(imresize(x.astype(np.float32), **kwargs))[:, 0]
    np.testing.assert_allclose(device, host, atol=1e-6)
    return host


def test_hand_values_match_keys_formula():
    assert [keys(t) for t in (0.25, 0.75, 1.25, 1.75)] == [K025, K075, K125, K175]
    assert K025 + K075 + K125 + K175 == 1.0  # partition of unity at offset 1/4


@pytest.mark.parametrize("n", [7, 8])
def test_interior_impulse_upscaled_x2(n):
    # Output k (1-based) samples u = k/2 + 1/4; an impulse at c gives Keys(u - c).
    c = 4
    out = resize_1d(np.eye(n)[c - 1], scale=2)
    expected = np.zeros(2 * n)
    expected[2 * c - 5:2 * c + 3] = [K175, K125, K075, K025, K025, K075, K125, K175]
    np.testing.assert_allclose(out, expected, atol=1e-12)


def test_edge_impulse_upscaled_x2_uses_symmetric_padding():
    # Tap 0 folds onto pixel 1 (edge repeated): out = Keys(u - 1) + Keys(u - 0).
    out = resize_1d([1.0, 0, 0, 0, 0], scale=2)
    expected = [K025 + K075, K025 + K125, K075 + K175, K125, K175, 0, 0, 0, 0, 0]
    np.testing.assert_allclose(out, expected, atol=1e-12)


def test_interior_impulse_downscaled_x2_is_antialiased():
    # scale 1/2: kernel 0.5 * Keys(d / 2), u = 2k - 1/2; impulse at 6 of 12.
    out = resize_1d(np.eye(12)[5], scale=0.5)
    expected = [0, 0.5 * K125, 0.5 * K025, 0.5 * K075, 0.5 * K175, 0]
    np.testing.assert_allclose(out, expected, atol=1e-12)


def test_downscale_without_antialiasing_samples_plain_kernel():
    # u = 2k - 1/2 and the plain kernel: the impulse at 6 is 0.5 from u_3 and 1.5 from u_4.
    out = resize_1d(np.eye(12)[5], scale=0.5, antialiasing=False)
    np.testing.assert_allclose(out, [0, 0, keys(0.5), keys(1.5), 0, 0], atol=1e-12)


@pytest.mark.parametrize("n", [20, 27])
@pytest.mark.parametrize("scale", [2, 3, 0.5, 1 / 3])
def test_ramp_is_preserved_away_from_borders(n, scale):
    out = resize_1d(np.arange(1, n + 1, dtype=np.float64), scale=scale)
    k = np.arange(1, len(out) + 1)
    u = k / scale + 0.5 * (1 - 1 / scale)  # input coordinate of output k
    half_width = 2 / min(scale, 1)
    interior = (u - half_width >= 1) & (u + half_width <= n)
    assert interior.sum() >= 2
    np.testing.assert_allclose(out[interior], u[interior], atol=1e-9)


@pytest.mark.parametrize("shape", [(5, 7, 3), (9, 4)])
@pytest.mark.parametrize("scale", [3, 1 / 3, 0.75])
def test_constant_is_preserved_everywhere(shape, scale):
    out_h, out_w = np.ceil(np.array(shape[:2]) * scale - 1e-9).astype(int)
    for x in (np.full(shape, 0.3), np.full(shape, 0.3, np.float32), np.full(shape, 77, np.uint8)):
        outs = [imresize_np(x, scale)]
        if x.dtype != np.float64:  # JAX runs without x64
            outs.append(np.asarray(imresize(x, scale)))
        for out in outs:
            assert out.shape == (out_h, out_w) + shape[2:] and out.dtype == x.dtype
            np.testing.assert_allclose(out, x.flat[0], atol=1e-6)


def test_two_dimensional_impulse_is_outer_product_of_1d_responses():
    x = np.zeros((7, 8, 2), np.float32)
    x[3, 3, 1] = 1.0
    col = np.zeros(14)
    col[3:11] = [K175, K125, K075, K025, K025, K075, K125, K175]
    row = np.zeros(16)
    row[3:11] = col[3:11]
    out = np.asarray(imresize(x, 2))
    np.testing.assert_allclose(out[..., 1], np.outer(col, row), atol=1e-6)
    np.testing.assert_allclose(out[..., 0], 0, atol=1e-7)


def test_uint8_rounds_after_each_pass_half_away_from_zero():
    # One row [0, 200, 0, 0] upscaled x2: the row pass is exact (all taps fold onto row 1);
    # along W, output k samples u = k/2 + 1/4 with taps folded symmetrically (edge repeated).
    # Expected: round half away from zero, negative lobes clipped to 0.
    x = np.array([[0, 200, 0, 0]], np.uint8)
    n = x.shape[1]

    def fold(i):  # 1-based tap -> 1-based pixel
        return 1 - i if i < 1 else (2 * n + 1 - i if i > n else i)

    u = np.arange(1, 2 * n + 1) / 2 + 0.25
    v = np.array([sum(keys(ui - i) * x[0, fold(i) - 1] for i in range(-3, n + 4)) for ui in u])
    expected = np.clip(np.floor(v + 0.5), 0, 255)
    assert (v < 0).any() and expected.min() == 0
    out = imresize_np(x, 2)
    assert out.shape == (2, 2 * n) and out.dtype == np.uint8
    np.testing.assert_array_equal(out, np.broadcast_to(expected, (2, 2 * n)))
    np.testing.assert_array_equal(np.asarray(imresize(x, 2)), out)


def test_uint8_resizes_smaller_scale_dimension_first():
    # MATLAB resizes the dimension with the smaller scale first; with per-pass rounding the
    # order is visible. Width scale 8/16 < height scale 12/16: width first.
    x = np.random.default_rng(0).integers(0, 256, (16, 16, 3), dtype=np.uint8)
    out = imresize_np(x, output_shape=(12, 8))
    width_first = imresize_np(imresize_np(x, output_shape=(16, 8)), output_shape=(12, 8))
    height_first = imresize_np(imresize_np(x, output_shape=(12, 16)), output_shape=(12, 8))
    np.testing.assert_array_equal(out, width_first)
    assert (out != height_first).any()
    np.testing.assert_array_equal(np.asarray(imresize(x, output_shape=(12, 8))), out)


def test_float_path_is_not_clamped_and_keeps_dtype():
    x = np.zeros((6, 6), np.float32)
    x[2:4, 2:4] = 1.0
    out = imresize(x, 2)
    assert out.dtype == jnp.float32 and float(out.max()) > 1.0 and float(out.min()) < 0.0


def test_arguments_are_checked():
    x = np.zeros((4, 4, 3))
    with pytest.raises(ValueError, match="exactly one"):
        imresize(x, 2, output_shape=(8, 8))
    with pytest.raises(ValueError, match="exactly one"):
        imresize_np(x)
    with pytest.raises(ValueError, match="rank"):
        imresize(np.zeros((1, 1, 4, 4, 3)), 2)
    with pytest.raises(ValueError, match="integer or float"):
        imresize_np(np.zeros((4, 4), bool), 2)


def test_jit_vmap_and_batch_agree():
    rng = np.random.default_rng(1)
    batch = rng.random((3, 10, 9, 3)).astype(np.float32)
    resize = jax.jit(imresize, static_argnames=("scale", "output_shape"))
    eager = np.asarray(imresize(batch, 0.5))
    np.testing.assert_allclose(np.asarray(resize(batch, scale=0.5)), eager, atol=1e-6)
    per_image = np.stack([np.asarray(imresize(img, 0.5)) for img in batch])
    np.testing.assert_allclose(eager, per_image, atol=1e-6)
    vmapped = jax.vmap(lambda img: imresize(img, 0.5))(batch)
    np.testing.assert_allclose(np.asarray(vmapped), per_image, atol=1e-6)
    np.testing.assert_allclose(eager, imresize_np(batch, 0.5), atol=1e-5)
    u8 = (batch * 255).astype(np.uint8)
    np.testing.assert_array_equal(np.asarray(resize(u8, scale=3)), imresize_np(u8, 3))


def test_grad_is_the_transposed_resize():
    # imresize is linear: d/dx sum(g * imresize(x)) = imresize^T g; check against finite
    # differences on two pixels and that everything is finite.
    rng = np.random.default_rng(2)
    x = jnp.asarray(rng.random((6, 5, 2)), jnp.float32)
    g = jnp.asarray(rng.random((3, 3, 2)), jnp.float32)

    def loss(v):
        return jnp.sum(g * imresize(v, output_shape=(3, 3)))

    grad = jax.jit(jax.grad(loss))(x)
    assert grad.shape == x.shape and bool(jnp.all(jnp.isfinite(grad)))
    for idx in [(0, 0, 0), (3, 2, 1)]:
        e = jnp.zeros_like(x).at[idx].set(1.0)
        np.testing.assert_allclose(float(grad[idx]), float(loss(e)), rtol=1e-5, atol=1e-6)


def _set5_pair(shared_data, name, scale):
    hr = np.asarray(Image.open(shared_data / "Set5" / f"{name}.png").convert("RGB"))
    h, w = hr.shape[0] // scale * scale, hr.shape[1] // scale * scale
    lr = np.asarray(Image.open(shared_data / "Set5_LR_bicubic" / f"X{scale}" / f"{name}x{scale}.png"))
    return hr[:h, :w], lr


@pytest.mark.parametrize("scale", [2, 3, 4])
def test_reproduces_published_set5_lr_bit_for_bit(shared_data, scale):
    for name in SET5:
        hr, lr = _set5_pair(shared_data, name, scale)
        np.testing.assert_array_equal(imresize_np(hr, 1 / scale), lr, err_msg=name)
        np.testing.assert_array_equal(np.asarray(imresize(hr, 1 / scale)), lr, err_msg=name)


def test_set5_x8_matches_with_one_final_rounding(shared_data):
    # Published X8 images were made from the float (double) resize rounded once at the end;
    # the per-pass uint8 path differs on a few hundred pixels per image.
    for name in SET5:
        hr, lr = _set5_pair(shared_data, name, 8)
        once = np.clip(np.floor(imresize_np(hr.astype(np.float64), 1 / 8) + 0.5), 0, 255)
        np.testing.assert_array_equal(once.astype(np.uint8), lr, err_msg=name)
        assert (imresize_np(hr, 1 / 8) != lr).sum() > 0
