"""Shared building blocks against Flax's own layers."""
import flax.linen as nn
import jax
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
