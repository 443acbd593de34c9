"""Shared building blocks against Flax's own layers; the convolution algorithms agree."""
import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxrestore.models.layers import PointwiseConv, conv, conv2d, prepared_conv2d


def test_pointwise_conv_equals_flax_1x1_conv_with_the_same_variables():
    x = np.random.default_rng(0).normal(size=(2, 5, 7, 6)).astype(np.float32)
    layer = conv(4, 1)
    assert isinstance(layer, PointwiseConv)
    variables = layer.init(jax.random.PRNGKey(0), x)
    reference = nn.Conv(4, (1, 1))
    assert jax.tree.map(np.shape, variables) == jax.tree.map(
        np.shape, reference.init(jax.random.PRNGKey(0), x))
    variables = jax.tree.map(lambda v: v + 0.3, variables)  # non-zero bias too
    np.testing.assert_allclose(layer.apply(variables, x), reference.apply(variables, x),
                               rtol=1e-5, atol=1e-5)


def test_conv_equals_flax_conv_with_the_same_variables():
    x = np.random.default_rng(1).normal(size=(2, 9, 7, 5)).astype(np.float32)
    for kernel_size, stride in [(3, 1), (5, 2)]:
        layer = conv(4, kernel_size, stride)
        pad = (kernel_size - 1) // 2
        reference = nn.Conv(4, (kernel_size, kernel_size), strides=stride,
                            padding=((pad, pad), (pad, pad)))
        variables = layer.init(jax.random.PRNGKey(0), x)
        assert jax.tree.map(np.shape, variables) == jax.tree.map(
            np.shape, reference.init(jax.random.PRNGKey(0), x))
        variables = jax.tree.map(lambda v: v + 0.3, variables)
        np.testing.assert_allclose(layer.apply(variables, x), reference.apply(variables, x),
                                   rtol=1e-5, atol=1e-5)


def test_winograd_conv_uses_the_same_variables_and_matches_direct():
    x = np.random.default_rng(2).normal(size=(1, 10, 11, 8)).astype(np.float32)
    variables = conv(8).init(jax.random.PRNGKey(0), x)
    np.testing.assert_allclose(conv(8, algorithm="winograd").apply(variables, x),
                               conv(8).apply(variables, x), rtol=1e-5, atol=1e-5)


def test_auto_algorithm_is_winograd_for_wide_convolutions_on_cpu():
    """On CPU 'auto' computes ≥ 64-channel 3×3 convolutions exactly as 'winograd', else direct."""
    assert jax.default_backend() == "cpu"
    rng = np.random.default_rng(3)
    for channels, same_as in [(64, "winograd"), (32, "direct")]:
        x = jnp.asarray(rng.normal(size=(1, 8, 8, channels)), jnp.float32)
        kernel = jnp.asarray(rng.normal(size=(3, 3, channels, channels)), jnp.float32)
        bias = jnp.zeros(channels)
        auto = conv2d(x, kernel, bias, algorithm="auto")
        np.testing.assert_array_equal(auto, conv2d(x, kernel, bias, algorithm=same_as))
        other = "direct" if same_as == "winograd" else "winograd"
        assert not np.array_equal(auto, conv2d(x, kernel, bias, algorithm=other))


def test_unknown_algorithm_is_an_error():
    with pytest.raises(ValueError, match="unknown convolution algorithm"):
        conv2d(jnp.zeros((1, 4, 4, 2)), jnp.zeros((3, 3, 2, 2)), jnp.zeros(2), algorithm="fft")


@pytest.mark.parametrize("size,stride,algorithm", [
    (3, 1, "winograd"), (5, 2, "winograd"), (5, 2, "direct"), (3, 1, "direct"), (1, 1, "winograd"),
])
def test_prepared_conv_equals_xla_convolution(size, stride, algorithm):
    """The kernel-prepared convolution (IGNN's loop) against XLA's own strided convolution."""
    rng = np.random.default_rng(4)
    x = jnp.asarray(rng.normal(size=(2, 11, 10, 6)), jnp.float32)
    kernel = jnp.asarray(rng.normal(size=(size, size, 6, 5)), jnp.float32)
    bias = jnp.asarray(rng.normal(size=5), jnp.float32)
    pad = (size - 1) // 2
    want = jax.lax.conv_general_dilated(x, kernel, (stride, stride), ((pad, pad), (pad, pad)),
                                        dimension_numbers=("NHWC", "HWIO", "NHWC")) + bias
    got = jax.jit(prepared_conv2d(kernel, bias, stride, algorithm))(x)
    assert got.shape == want.shape
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-4)
