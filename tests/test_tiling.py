"""Padding, cropping and overlapped tiling against whole-image application."""
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy.ndimage import uniform_filter

from jaxrestore.ops.tiling import (crop, pad_to_multiple, plan_tiles, row_bands, tile_starts,
                                   tile_window, tiled_apply)

X = np.random.default_rng(0).random((2, 37, 29, 3)).astype(np.float32)


def _blur3(t):
    """3x3 box blur with reflect borders (scipy oracle), per image and channel."""
    return uniform_filter(np.asarray(t, np.float64), size=(1, 3, 3, 1), mode="reflect").astype(np.float32)


def _upsample_x2(t):
    """A local x2 upsampler: nearest neighbour, then a 3x3 box blur at the output resolution."""
    return _blur3(np.asarray(t).repeat(2, axis=1).repeat(2, axis=2))


@pytest.mark.parametrize(
    "mode,expected",
    [("reflect", [1, 2, 3, 2, 1]), ("symmetric", [1, 2, 3, 3, 2]), ("edge", [1, 2, 3, 3, 3])],
)
def test_pad_to_multiple_and_crop(mode, expected):
    x = np.array([1, 2, 3], np.float32).reshape(1, 1, 3, 1) * np.ones((1, 3, 1, 1), np.float32)
    padded, size = pad_to_multiple(x, (1, 5), mode=mode)
    assert size == (3, 3) and padded.shape == (1, 3, 5, 1)
    np.testing.assert_array_equal(padded[0, 0, :, 0], expected)
    np.testing.assert_array_equal(crop(padded, size), x)
    padded, size = pad_to_multiple(X, 8, mode=mode)
    assert padded.shape == (2, 40, 32, 3)
    np.testing.assert_array_equal(crop(padded, size), X)
    up = padded.repeat(2, axis=1).repeat(2, axis=2)
    np.testing.assert_array_equal(crop(up, size, scale=2), X.repeat(2, axis=1).repeat(2, axis=2))


def test_pad_already_a_multiple_is_unchanged():
    padded, size = pad_to_multiple(X, (37, 29))
    np.testing.assert_array_equal(padded, X)


def test_tile_starts_cover_and_last_is_flush():
    assert tile_starts(37, 12, 4) == [0, 8, 16, 24, 25]
    assert tile_starts(10, 12, 4) == [0]
    assert tile_starts(24, 8, 0) == [0, 8, 16]


def test_one_tile_equals_fn_exactly():
    def global_fn(t):  # depends on the whole input: only exact if never tiled
        return jnp.asarray(t) - jnp.mean(t) + jnp.asarray(t).repeat(2, 1).repeat(2, 2)[:, ::2, ::2] * 0.5

    out = tiled_apply(global_fn, X, tile=64, overlap=16)
    assert isinstance(out, np.ndarray)
    np.testing.assert_array_equal(out, np.asarray(global_fn(X)))
    out = tiled_apply(_upsample_x2, X, tile=37, overlap=8, scale=2)
    np.testing.assert_array_equal(out, _upsample_x2(X))


def test_weights_are_normalised_everywhere():
    ones = lambda t: np.ones((t.shape[0], 2 * t.shape[1], 2 * t.shape[2], 1), np.float32)  # noqa: E731
    for tile, overlap in [(12, 4), (12, 11), (10, 1), (9, 0)]:
        np.testing.assert_allclose(tiled_apply(ones, X, tile, overlap, scale=2), 1.0, atol=1e-6)


def test_pointwise_fn_is_exact_with_many_tiles():
    fn = lambda t: np.sqrt(t) * 2.0 - 1.0  # noqa: E731
    np.testing.assert_allclose(tiled_apply(fn, X, tile=10, overlap=3), fn(X), atol=1e-6)


@pytest.mark.parametrize("tile,overlap", [(12, 4), (16, 8), (11, 6)])
def test_local_fn_matches_whole_image_within_1e6(tile, overlap):
    """Exact (to float32 rounding, 1e-6) when the fn's radius (1 px) is <= overlap/4."""
    np.testing.assert_allclose(tiled_apply(_blur3, X, tile, overlap), _blur3(X), atol=1e-6)
    np.testing.assert_allclose(tiled_apply(_upsample_x2, X, tile, overlap, scale=2), _upsample_x2(X), atol=1e-6)


def test_too_small_overlap_is_not_exact_for_a_blur():
    """Control: with overlap 1 the tile-edge pixel (wrong for a radius-1 blur) gets weight."""
    assert np.abs(tiled_apply(_blur3, X, 12, 1) - _blur3(X)).max() > 1e-3


def test_jitted_fn_compiles_once():
    traces = []

    @jax.jit
    def fn(t):
        traces.append(t.shape)
        return t * 3.0

    out = tiled_apply(fn, X, tile=12, overlap=4)
    np.testing.assert_allclose(out, X * 3.0, atol=1e-6)
    assert len(traces) == 1


def test_bad_arguments():
    with pytest.raises(ValueError, match="overlap < tile"):
        tiled_apply(_blur3, X, 8, 8)
    with pytest.raises(ValueError, match="expected"):
        tiled_apply(lambda t: t[:, :-1], X, 12, 4)
    with pytest.raises(ValueError, match="NHWC"):
        pad_to_multiple(X[0], 8)
    with pytest.raises(ValueError, match="pad mode"):
        pad_to_multiple(X, 8, mode="wrap")


def test_composes_with_self_ensemble():
    from jaxrestore.ops.ensemble import self_ensemble

    x = np.random.default_rng(2).random((1, 30, 22, 3))
    padded, size = pad_to_multiple(x, 8, mode="symmetric")
    y = tiled_apply(lambda t: self_ensemble(_upsample_x2, t), padded, 16, 8, 2)
    np.testing.assert_allclose(crop(y, size, 2), crop(_upsample_x2(padded), size, 2), atol=1e-6)


def test_plan_tiles_matches_tile_starts_and_windows():
    plan = plan_tiles(37, 29, 12, 4, scale=2)
    assert plan.tile_hw == (12, 12) and len(plan) == 5 * 4  # rows 0 8 16 24 25, cols 0 8 16 17
    assert plan.starts[:5] == [(0, 0), (0, 8), (0, 16), (0, 17), (8, 0)]
    assert plan.starts[-1] == (25, 17)
    np.testing.assert_array_equal(plan.weight(0)[:, :, 0],
                                  np.outer(tile_window(12, 4, 2, False, True),
                                           tile_window(12, 4, 2, False, True)))
    assert plan.total.shape == (74, 58) and plan.total.min() > 0


def test_normalise_by_row_bands_equals_dividing_by_the_whole_weight():
    """Normalising band by band (no image-sized weight array) gives exactly the division by
    the plan's summed weight, also across band borders (600 output rows > one band)."""
    plan = plan_tiles(300, 70, tile=64, overlap=16, scale=2)
    summed = np.random.default_rng(1).random((1, 600, 140, 2)).astype(np.float32)
    expected = (summed / plan.total[..., None]).astype(np.float32)  # float64 division, cast
    np.testing.assert_array_equal(plan.normalise(summed.copy()), expected)
    assert row_bands(600)[-1] == slice(512, 600) and len(row_bands(600)) == 3
