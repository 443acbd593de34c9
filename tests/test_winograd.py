"""Winograd F(4×4, 3×3) convolutions against NumPy float64 correlation and XLA's convolution.

Oracles: `np.correlate` for the 1-D minimal-filtering identity; a float64 NumPy convolution
(sum of shifted channel products) for conv3x3's values; XLA's convolution and its autodiff for
the derivatives.
"""
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxrestore.ops import winograd


def numpy_conv(x, kernel, padding):
    """float64 cross-correlation: x (B,H,W,C), kernel (3,3,C,D), padding ((t,b),(l,r))."""
    x = np.pad(np.asarray(x, np.float64), ((0, 0), *padding, (0, 0)))
    kernel = np.asarray(kernel, np.float64)
    out_h, out_w = x.shape[1] - 2, x.shape[2] - 2
    return sum(x[:, i:i + out_h, j:j + out_w] @ kernel[i, j] for i in range(3) for j in range(3))


def numpy_conv5x5_stride2(x, kernel):
    """float64 5×5 stride-2 cross-correlation with zero padding 2 (PyTorch's)."""
    x = np.pad(np.asarray(x, np.float64), ((0, 0), (2, 2), (2, 2), (0, 0)))
    kernel = np.asarray(kernel, np.float64)
    out_h, out_w = (x.shape[1] - 5) // 2 + 1, (x.shape[2] - 5) // 2 + 1
    return sum(x[:, i:i + 2 * out_h:2, j:j + 2 * out_w:2] @ kernel[i, j]
               for i in range(5) for j in range(5))


def xla_conv(x, kernel, padding):
    return jax.lax.conv_general_dilated(x, kernel, (1, 1), padding,
                                        dimension_numbers=("NHWC", "HWIO", "NHWC"))


# Jitted once per shape: run op by op, the transforms' many small operations compile one by one.
conv3x3 = jax.jit(winograd.conv3x3, static_argnums=2)
conv5x5_stride2 = jax.jit(winograd.conv5x5_stride2)


@pytest.mark.parametrize("points", [winograd.POINTS, (0.0, 1.0, -1.0, 2.0, -2.0)])
def test_one_dimensional_identity_is_valid_correlation(points):
    a_t, g, b_t = winograd.toom_cook_matrices(points)
    assert (a_t.shape, g.shape, b_t.shape) == ((4, 6), (6, 3), (6, 6))
    rng = np.random.default_rng(0)
    for _ in range(5):
        d, taps = rng.normal(size=6), rng.normal(size=3)
        np.testing.assert_allclose(a_t @ ((g @ taps) * (b_t @ d)), np.correlate(d, taps, "valid"),
                                   rtol=0, atol=1e-12)


def test_f23_from_the_same_construction():
    """F(2×2, 3×3) on the points (0, 1, -1) is also exact: the construction is general."""
    a_t, g, b_t = winograd.toom_cook_matrices((0.0, 1.0, -1.0), m=2)
    d, taps = np.arange(4.0), np.array([2.0, -1.0, 0.5])
    np.testing.assert_allclose(a_t @ ((g @ taps) * (b_t @ d)), np.correlate(d, taps, "valid"),
                               atol=1e-12)


@pytest.mark.parametrize("r1,r2", [(3, 3), (3, 2), (2, 3), (2, 2)])
def test_two_dimensional_transforms_give_the_valid_correlation(r1, r2):
    """F(4×4, r1×r2) from the Kronecker transforms: A ((G g) * (B d)) = the 4×4 valid
    correlation of a (3+r1)×(3+r2) tile with an r1×r2 kernel (the phase kernels of 5×5 s2)."""
    input_t, kernel_t, output_t = winograd.transforms(r1, r2)
    rng = np.random.default_rng(8)
    d, g = rng.normal(size=(3 + r1, 3 + r2)), rng.normal(size=(r1, r2))
    want = np.array([[np.sum(d[i:i + r1, j:j + r2] * g) for j in range(4)] for i in range(4)])
    got = output_t @ ((kernel_t @ g.reshape(-1)) * (input_t @ d.reshape(-1)))
    np.testing.assert_allclose(got.reshape(4, 4), want, rtol=0, atol=1e-4)


def test_repeated_points_are_rejected():
    with pytest.raises(ValueError, match="distinct"):
        winograd.toom_cook_matrices((0.0, 1.0, 1.0, 0.5, -2.0))


@pytest.mark.parametrize("shape, padding", [
    ((2, 8, 8, 5), ((1, 1), (1, 1))),      # whole tiles, batch of 2
    ((1, 7, 10, 3), ((1, 1), (1, 1))),     # sizes that are not multiples of the tile
    ((1, 9, 6, 4), ((0, 0), (0, 0))),      # valid convolution
    ((1, 5, 5, 2), ((2, 0), (0, 1))),      # asymmetric padding
    ((1, 1, 1, 3), ((1, 1), (1, 1))),      # a single pixel
])
def test_conv3x3_equals_float64_correlation(shape, padding):
    rng = np.random.default_rng(1)
    x = rng.normal(size=shape).astype(np.float32)
    kernel = rng.normal(size=(3, 3, shape[-1], 6)).astype(np.float32)
    got = np.asarray(conv3x3(jnp.asarray(x), jnp.asarray(kernel), padding))
    want = numpy_conv(x, kernel, padding)
    assert got.shape == want.shape
    np.testing.assert_allclose(got, want, rtol=0, atol=2e-5 * np.abs(want).max())


@pytest.mark.parametrize("shape", [(1, 8, 8, 3), (2, 7, 10, 2), (1, 1, 2, 4)])
def test_conv5x5_stride2_equals_float64_correlation(shape):
    rng = np.random.default_rng(5)
    x = rng.normal(size=shape).astype(np.float32)
    kernel = rng.normal(size=(5, 5, shape[-1], 3)).astype(np.float32)
    got = np.asarray(conv5x5_stride2(jnp.asarray(x), jnp.asarray(kernel)))
    want = numpy_conv5x5_stride2(x, kernel)
    assert got.shape == want.shape == (shape[0], -(-shape[1] // 2), -(-shape[2] // 2), 3)
    np.testing.assert_allclose(got, want, rtol=0, atol=2e-5 * np.abs(want).max())


def test_float32_error_is_within_a_few_times_that_of_the_direct_convolution():
    """The documented precision: RMS error vs float64 ≤ 5× XLA's direct float32 one (~3×)."""
    rng = np.random.default_rng(2)
    x = rng.normal(size=(1, 24, 24, 256)).astype(np.float32)
    kernel = (rng.normal(size=(3, 3, 256, 256)) * np.sqrt(2 / 2304)).astype(np.float32)
    padding = ((1, 1), (1, 1))
    want = numpy_conv(x, kernel, padding)
    rms = lambda got: np.sqrt(np.mean((np.asarray(got, np.float64) - want) ** 2))  # noqa: E731
    direct = rms(xla_conv(x, kernel, padding))
    fast = rms(conv3x3(jnp.asarray(x), jnp.asarray(kernel), padding))
    assert 0 < fast < 5 * direct, (fast, direct)


def test_derivatives_are_the_convolutions():
    rng = np.random.default_rng(3)
    x = jnp.asarray(rng.normal(size=(2, 6, 7, 4)), jnp.float32)
    kernel = jnp.asarray(rng.normal(size=(3, 3, 4, 5)), jnp.float32)
    padding = ((1, 1), (0, 2))
    loss = lambda conv: lambda x, k: jnp.sum(jnp.sin(conv(x, k, padding)))  # noqa: E731
    got = jax.jit(jax.grad(loss(winograd.conv3x3), argnums=(0, 1)))(x, kernel)
    want = jax.grad(loss(xla_conv), argnums=(0, 1))(x, kernel)
    for g, w in zip(got, want):
        np.testing.assert_allclose(g, w, rtol=1e-4, atol=1e-4)
    tangents = (jnp.ones_like(x), jnp.zeros_like(kernel))
    _, got_t = jax.jit(lambda x, k, dx, dk: jax.jvp(lambda x, k: winograd.conv3x3(x, k, padding),
                                                     (x, k), (dx, dk)))(x, kernel, *tangents)
    _, want_t = jax.jvp(lambda x, k: xla_conv(x, k, padding), (x, kernel), tangents)
    np.testing.assert_allclose(got_t, want_t, rtol=1e-5, atol=1e-5)


def test_conv5x5_stride2_derivatives_are_the_convolutions():
    rng = np.random.default_rng(9)
    x = jnp.asarray(rng.normal(size=(2, 9, 6, 3)), jnp.float32)
    kernel = jnp.asarray(rng.normal(size=(5, 5, 3, 4)), jnp.float32)
    strided = lambda x, k: jax.lax.conv_general_dilated(  # noqa: E731
        x, k, (2, 2), ((2, 2), (2, 2)), dimension_numbers=("NHWC", "HWIO", "NHWC"))
    loss = lambda conv: lambda x, k: jnp.sum(jnp.sin(conv(x, k)))  # noqa: E731
    got = jax.jit(jax.grad(loss(winograd.conv5x5_stride2), argnums=(0, 1)))(x, kernel)
    want = jax.grad(loss(strided), argnums=(0, 1))(x, kernel)
    for g, w in zip(got, want):
        np.testing.assert_allclose(g, w, rtol=1e-4, atol=1e-4)


def test_vmap_and_jit_agree_with_single_calls():
    rng = np.random.default_rng(4)
    x = jnp.asarray(rng.normal(size=(3, 1, 6, 6, 2)), jnp.float32)
    kernel = jnp.asarray(rng.normal(size=(3, 3, 2, 2)), jnp.float32)
    batched = jax.jit(jax.vmap(lambda x: winograd.conv3x3(x, kernel)))(x)
    for i in range(3):
        np.testing.assert_allclose(batched[i], conv3x3(x[i], kernel), rtol=1e-5,
                                   atol=1e-5)


def test_bad_kernel_and_empty_output_are_errors():
    with pytest.raises(ValueError, match="3x3"):
        winograd.conv3x3(jnp.zeros((1, 8, 8, 2)), jnp.zeros((5, 5, 2, 2)))
    with pytest.raises(ValueError, match="5x5"):
        winograd.conv5x5_stride2(jnp.zeros((1, 8, 8, 2)), jnp.zeros((3, 3, 2, 2)))
    with pytest.raises(ValueError, match="no output"):
        winograd.conv3x3(jnp.zeros((1, 2, 2, 2)), jnp.zeros((3, 3, 2, 2)), ((0, 0), (0, 0)))


def test_a_deep_chain_does_not_hold_every_transformed_kernel():
    """XLA's temporaries for 12 layers stay below 3 transformed kernels (12 would be alive if
    the kernel transforms ran up front), and the output is unchanged."""
    rng = np.random.default_rng(6)
    x = jnp.asarray(rng.normal(size=(1, 16, 16, 128)), jnp.float32)
    kernels = [jnp.asarray(rng.normal(size=(3, 3, 128, 128)) * 0.03, jnp.float32)
               for _ in range(12)]                        # separate arrays, as a model's weights

    def chain(conv):
        def run(x, kernels):
            for kernel in kernels:
                x = jax.nn.relu(conv(x, kernel, ((1, 1), (1, 1))))
            return x
        return jax.jit(run)

    compiled = chain(winograd.conv3x3).lower(x, kernels).compile()
    transformed_kernel_bytes = 36 * 128 * 128 * 4
    assert compiled.memory_analysis().temp_size_in_bytes < 3 * transformed_kernel_bytes
    np.testing.assert_allclose(compiled(x, kernels), chain(xla_conv)(x, kernels),
                               rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_a_non_finite_pixel_stays_local(bad):
    """NaN/inf spreads only within its Winograd tiles (4×4 outputs, 8 at most with the tiles'
    overlap), never to the other images of the batch."""
    x = np.random.default_rng(7).normal(size=(2, 16, 16, 2)).astype(np.float32)
    x[0, 0, 0, 0] = bad
    kernel = jnp.ones((3, 3, 2, 2), jnp.float32)
    y = np.asarray(conv3x3(jnp.asarray(x), kernel))
    assert not np.isfinite(y[0, 0, 0]).all()
    assert np.isfinite(y[1]).all()
    assert np.isfinite(y[0, 8:, :]).all() and np.isfinite(y[0, :, 8:]).all()
