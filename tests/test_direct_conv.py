"""XLA's convolution with strided input gradients over phases, against a float64 NumPy
correlation (values) and XLA's own autodiff of `lax.conv_general_dilated` (derivatives, both
modes)."""
import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxrestore.ops.direct_conv import conv_by_phases, direct_conv

# (input shape, kernel (k1, k2), stride, padding): PyTorch's 5×5 stride 2 (IGNN's knn_down0),
# a kernel narrower than the stride, sizes that are not multiples of it, asymmetric padding.
CASES = [((2, 9, 7, 3), (5, 5), 2, ((2, 2), (2, 2))),
         ((1, 10, 11, 2), (3, 2), 3, ((1, 0), (0, 2))),
         ((1, 8, 7, 2), (1, 1), 2, ((0, 0), (0, 0))),
         ((1, 7, 9, 2), (4, 3), 2, ((0, 0), (1, 1)))]


def numpy_correlation(x, kernel, stride, padding):
    """float64 strided cross-correlation with zero padding, one kernel tap at a time."""
    x = np.pad(np.asarray(x, np.float64), ((0, 0), *padding, (0, 0)))
    kernel = np.asarray(kernel, np.float64)
    k1, k2 = kernel.shape[:2]
    out_h, out_w = (x.shape[1] - k1) // stride + 1, (x.shape[2] - k2) // stride + 1
    return sum(x[:, i:i + stride * out_h:stride, j:j + stride * out_w:stride] @ kernel[i, j]
               for i in range(k1) for j in range(k2))


def xla_conv(x, kernel, padding, stride):
    return jax.lax.conv_general_dilated(x, kernel, (stride, stride), padding,
                                        dimension_numbers=("NHWC", "HWIO", "NHWC"))


def loss(conv):
    return lambda x, kernel, padding, stride: jnp.sum(jnp.sin(conv(x, kernel, padding, stride)))


@functools.partial(jax.jit, static_argnums=(2, 3))
def values_and_gradients(x, kernel, padding, stride):
    grads = lambda conv: jax.grad(loss(conv), argnums=(0, 1))(  # noqa: E731
        x, kernel, padding, stride)
    tangent = lambda conv: jax.jvp(  # noqa: E731
        lambda x, kernel: conv(x, kernel, padding, stride), (x, kernel),
        (jnp.cos(x), jnp.sin(kernel)))[1]
    return (direct_conv(x, kernel, padding, stride), conv_by_phases(x, kernel, padding, stride),
            grads(direct_conv) + (tangent(direct_conv),), grads(xla_conv) + (tangent(xla_conv),))


@pytest.mark.parametrize("shape, kernel_hw, stride, padding", CASES)
def test_strided_values_and_gradients(shape, kernel_hw, stride, padding):
    rng = np.random.default_rng(0)
    x = jnp.asarray(rng.normal(size=shape), jnp.float32)
    kernel = jnp.asarray(rng.normal(size=kernel_hw + (shape[-1], 4)), jnp.float32)
    direct, phases, grads, xla_grads = values_and_gradients(x, kernel, padding, stride)
    want = numpy_correlation(x, kernel, stride, padding)
    assert direct.shape == phases.shape == want.shape
    np.testing.assert_allclose(direct, want, rtol=0, atol=1e-5 * np.abs(want).max())
    np.testing.assert_allclose(phases, want, rtol=0, atol=1e-5 * np.abs(want).max())
    for got, expected in zip(grads, xla_grads):
        np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-5)


def test_strided_input_gradient_is_not_a_dilated_convolution():
    """Reverse mode gives the input gradient as stride-1 convolutions (XLA's own autodiff uses
    a convolution of the dilated output gradient, `lhs_dilate`, slow on CPU)."""
    x, kernel = jnp.ones((1, 12, 12, 2)), jnp.ones((5, 5, 2, 2))
    padding = ((2, 2), (2, 2))

    def gradient_hlo(conv):
        return jax.jit(jax.grad(loss(conv)), static_argnums=(2, 3)).lower(
            x, kernel, padding, 2).compile().as_text()

    assert "lhs_dilate" in gradient_hlo(xla_conv)
    assert "lhs_dilate" not in gradient_hlo(direct_conv)
