"""Pixel shuffle in PyTorch's channel order (CONVENTIONS.md), checked on hand-built arrays."""
import jax.numpy as jnp
import numpy as np

from jaxrestore.ops.pixel_shuffle import pixel_shuffle, pixel_unshuffle, repeat_pixels


def test_pixel_shuffle_pytorch_layout_by_hand():
    # torch.nn.PixelShuffle(2) on NCHW (1, 8, 1, 1) with channel value v = c*4 + i*2 + j gives
    # out[0, c, i, j] = v: channel 0..3 fill the 2x2 block of output channel 0 row by row.
    x = jnp.arange(8.0).reshape(1, 1, 1, 8)
    out = pixel_shuffle(x, 2)
    assert out.shape == (1, 2, 2, 2)
    np.testing.assert_array_equal(out[0, :, :, 0], [[0, 1], [2, 3]])
    np.testing.assert_array_equal(out[0, :, :, 1], [[4, 5], [6, 7]])


def test_pixel_shuffle_two_blocks_scale3():
    # Two LR pixels side by side, C=1, r=3: LR pixel (0, w) fills HR rows 0..2, cols 3w..3w+2.
    x = np.stack([np.arange(9.0), 100 + np.arange(9.0)]).reshape(1, 1, 2, 9)
    out = np.asarray(pixel_shuffle(jnp.asarray(x), 3))[0, :, :, 0]
    want = np.array([[0, 1, 2, 100, 101, 102],
                     [3, 4, 5, 103, 104, 105],
                     [6, 7, 8, 106, 107, 108]])
    np.testing.assert_array_equal(out, want)


def test_unshuffle_inverts_shuffle_and_vice_versa():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(2, 3, 4, 2 * 9)).astype(np.float32)
    np.testing.assert_array_equal(pixel_unshuffle(pixel_shuffle(jnp.asarray(x), 3), 3), x)
    y = rng.normal(size=(2, 6, 4, 5)).astype(np.float32)
    np.testing.assert_array_equal(pixel_shuffle(pixel_unshuffle(jnp.asarray(y), 2), 2), y)


def test_unshuffle_matches_loop_and_crops_like_pixelshuffle_down():
    x = np.random.default_rng(1).normal(size=(1, 5, 7, 3)).astype(np.float32)
    r = 2
    got = np.asarray(pixel_unshuffle(jnp.asarray(x), r))
    assert got.shape == (1, 2, 3, 12)
    for h in range(2):
        for w in range(3):
            for c in range(3):
                for i in range(r):
                    for j in range(r):
                        assert got[0, h, w, c * r * r + i * r + j] == x[0, h * r + i, w * r + j, c]


def test_repeat_pixels_hand_values():
    x = jnp.arange(4.0).reshape(1, 2, 2, 1)
    want = [[0, 0, 1, 1], [0, 0, 1, 1], [2, 2, 3, 3], [2, 2, 3, 3]]
    np.testing.assert_array_equal(repeat_pixels(x, 2)[0, :, :, 0], want)
