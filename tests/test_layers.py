"""Shared building blocks against Flax's own layers, with either convolution algorithm."""
import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

from jaxrestore.models.layers import PointwiseConv, conv


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
