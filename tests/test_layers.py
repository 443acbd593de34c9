"""Shared building blocks against Flax's own layers, with either convolution algorithm.

Variables are drawn in NumPy in the shapes `init` declares (compiling an initialiser costs
~2 s a layer); Flax's layers get the very same ones.
"""
import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

from jaxrestore.models.layers import PointwiseConv, conv


def variable_shapes(layer, x):
    return jax.tree.map(lambda s: s.shape, jax.eval_shape(layer.init, jax.random.key(0), x))


def random_variables(layer, x, scale=1.0):
    rng = np.random.default_rng(0)
    return jax.tree.map(lambda shape: jnp.asarray(scale * rng.normal(size=shape), jnp.float32),
                        variable_shapes(layer, x), is_leaf=lambda s: isinstance(s, tuple))


def test_pointwise_conv_equals_flax_1x1_conv_with_the_same_variables():
    x = np.random.default_rng(0).normal(size=(2, 5, 7, 6)).astype(np.float32)
    layer = conv(4, 1)
    assert isinstance(layer, PointwiseConv)
    reference = nn.Conv(4, (1, 1))
    assert variable_shapes(layer, x) == variable_shapes(reference, x)
    variables = random_variables(layer, x)                     # non-zero bias too
    np.testing.assert_allclose(layer.apply(variables, x), reference.apply(variables, x),
                               rtol=1e-5, atol=1e-5)


def test_conv_equals_flax_conv_with_the_same_variables():
    x = np.random.default_rng(1).normal(size=(2, 9, 7, 5)).astype(np.float32)
    for kernel_size, stride in [(3, 1), (5, 2)]:
        layer = conv(4, kernel_size, stride)
        pad = (kernel_size - 1) // 2
        reference = nn.Conv(4, (kernel_size, kernel_size), strides=stride,
                            padding=((pad, pad), (pad, pad)))
        assert variable_shapes(layer, x) == variable_shapes(reference, x)
        variables = random_variables(layer, x)
        np.testing.assert_allclose(layer.apply(variables, x), reference.apply(variables, x),
                                   rtol=1e-5, atol=1e-5)


def test_winograd_conv_uses_the_same_variables_and_matches_direct():
    x = np.random.default_rng(2).normal(size=(1, 10, 11, 8)).astype(np.float32)
    assert variable_shapes(conv(8, algorithm="winograd"), x) == variable_shapes(conv(8), x)
    variables = random_variables(conv(8), x, scale=0.1)
    np.testing.assert_allclose(jax.jit(conv(8, algorithm="winograd").apply)(variables, x),
                               conv(8).apply(variables, x), rtol=1e-5, atol=1e-5)
