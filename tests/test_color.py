"""BT.601 colour conversion against hand-computed MATLAB rgb2ycbcr values."""
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxrestore.ops.color import rgb_to_y, rgb_to_ycbcr, ycbcr_to_rgb

# (R, G, B) in [0, 1] -> (Y, Cb, Cr) on 0..255, from Y = 16 + 65.481 R + 128.553 G + 24.966 B,
# Cb = 128 - 37.797 R - 74.203 G + 112 B, Cr = 128 + 112 R - 93.786 G - 18.214 B.
HAND = [
    ((0, 0, 0), (16.0, 128.0, 128.0)),
    ((1, 1, 1), (235.0, 128.0, 128.0)),
    ((1, 0, 0), (81.481, 90.203, 240.0)),
    ((0, 1, 0), (144.553, 53.797, 34.214)),
    ((0, 0, 1), (40.966, 240.0, 109.786)),
    # Y  = 16 + 13.0962 + 51.4212 + 14.9796; Cb = 128 - 7.5594 - 29.6812 + 67.2;
    # Cr = 128 + 22.4 - 37.5144 - 10.9284
    ((0.2, 0.4, 0.6), (95.497, 157.9594, 101.9572)),
]


@pytest.mark.parametrize("rgb,ycbcr", HAND)
def test_hand_values(rgb, ycbcr):
    x = np.array(rgb, np.float64)
    np.testing.assert_allclose(rgb_to_ycbcr(x), ycbcr, atol=1e-9)
    np.testing.assert_allclose(rgb_to_y(x), ycbcr[:1], atol=1e-9)


def test_uint8_input_means_0_255():
    x = np.array([[255, 0, 0], [51, 102, 153]], np.uint8)  # 51/255 = 0.2, ...
    np.testing.assert_allclose(rgb_to_y(x)[:, 0], [81.481, 95.497], atol=1e-9)


def test_float64_numpy_stays_float64_and_shapes():
    x = np.random.default_rng(0).random((2, 5, 4, 3))
    assert rgb_to_ycbcr(x).dtype == np.float64 and rgb_to_ycbcr(x).shape == (2, 5, 4, 3)
    assert rgb_to_y(x).shape == (2, 5, 4, 1)


def test_round_trip_numpy_and_jit():
    x = np.random.default_rng(1).random((3, 7, 3))
    np.testing.assert_allclose(ycbcr_to_rgb(rgb_to_ycbcr(x)), x, atol=1e-12)
    xj = jnp.asarray(x, jnp.float32)
    back = jax.jit(lambda v: ycbcr_to_rgb(rgb_to_ycbcr(v)))(xj)
    assert back.dtype == jnp.float32
    np.testing.assert_allclose(np.asarray(back), x, atol=1e-5)
    y = jax.jit(rgb_to_y)(xj)
    expected = 16 + (x * [65.481, 128.553, 24.966]).sum(-1, keepdims=True)
    np.testing.assert_allclose(np.asarray(y), expected, atol=1e-4)


def test_wrong_channels():
    with pytest.raises(ValueError, match="3 channels"):
        rgb_to_y(np.zeros((4, 4, 1)))
