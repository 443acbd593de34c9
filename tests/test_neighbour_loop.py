"""IGNN's GCN neighbour loop against plain autodiff of an unrolled sum over the neighbours.

Oracle: a loop over the k neighbours written with `cross_scale_aggregate` (tested against the
original's transcription in test_aggregate.py) and XLA's own convolutions, differentiated by
JAX; nothing of `jaxrestore.ops.neighbour_loop` or `jaxrestore.ops.conv` is in it.
"""
import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxrestore.ops import neighbour_loop
from jaxrestore.ops.aggregate import cross_scale_aggregate
from jaxrestore.ops.patches import patch_grid
from jaxrestore.ops.pixel_shuffle import pixel_unshuffle

S, K, C, H, W = 2, 3, 4, 12, 10                # graph scale, neighbours, channels, LR size


def plain_sums(y, idx, w_lr, w_hr, down):
    """Σ_j (w_lr[j] * down convs of neighbour j's HR aggregate, w_hr[j] * that aggregate)."""
    lr_sum = hr_sum = 0
    for j in range(idx.shape[-1]):
        hr = cross_scale_aggregate(y, pixel_unshuffle(y, S), idx[..., j:j + 1], S, 3, 2)
        x = hr
        for n, ((kernel, bias), stride) in enumerate(zip(down, (S, 1, 1))):
            pad = (kernel.shape[0] - 1) // 2
            x = jax.lax.conv_general_dilated(x, kernel, (stride, stride), ((pad, pad), (pad, pad)),
                                             dimension_numbers=("NHWC", "HWIO", "NHWC")) + bias
            x = jax.nn.relu(x) if n < 2 else x
        lr_sum, hr_sum = lr_sum + x * w_lr[j], hr_sum + hr * w_hr[j]
    return lr_sum, hr_sum


def loop_sums(algorithm, y, idx, w_lr, w_hr, down):
    return neighbour_loop.neighbour_sums(y, pixel_unshuffle(y, S), idx, w_lr, w_hr, down, S, 3,
                                         2, algorithm)


@functools.partial(jax.jit, static_argnums=0)
def sums_values_and_gradients(sums, y, idx, w_lr, w_hr, down):
    """sums' values alone (inference), and its values and gradients of a loss under grad."""
    def loss(y, w_lr, w_hr, down):
        values = sums(y, idx, w_lr, w_hr, down)
        return sum(jnp.sum(jnp.sin(v)) for v in values), values

    (_, values_under_grad), grads = jax.value_and_grad(loss, argnums=(0, 1, 2, 3),
                                                       has_aux=True)(y, w_lr, w_hr, down)
    return sums(y, idx, w_lr, w_hr, down), values_under_grad, grads


@pytest.mark.parametrize("algorithm", ["direct", "winograd"])
def test_neighbour_loop_gradient_is_plain_autodiff(algorithm):
    """The loop's values alone (a scan with prepared kernels) and under differentiation (the k
    neighbours in one batch, custom VJP) are those of the plain loop, and so are its
    gradients with respect to the features, both weights and the three convolutions."""
    rng = np.random.default_rng(5)
    normal = lambda *shape: jnp.asarray(rng.normal(size=shape), jnp.float32)  # noqa: E731
    y = normal(1, H, W, C)
    son_cells = int(np.prod(patch_grid(H // S, W // S, 3, 2)))
    idx = jnp.asarray(rng.integers(0, son_cells, size=(1, *patch_grid(H, W, 3, 2), K)),
                      jnp.int32)
    w_lr, w_hr = normal(K, 1, H, W, 1), normal(K, 1, H * S, W * S, 1)
    down = tuple((0.1 * normal(size, size, C, C), normal(C)) for size in (5, 3, 3))
    args = (y, idx, w_lr, w_hr, down)

    alone, under_grad, grads = sums_values_and_gradients(
        functools.partial(loop_sums, algorithm), *args)
    want, _, want_grads = sums_values_and_gradients(plain_sums, *args)
    for got in (alone, under_grad):
        for g, v in zip(got, want):
            np.testing.assert_allclose(g, v, rtol=1e-4, atol=1e-4)
    assert jax.tree.structure(grads) == jax.tree.structure(want_grads)
    for g, v in zip(jax.tree.leaves(grads), jax.tree.leaves(want_grads)):
        np.testing.assert_allclose(g, v, rtol=1e-3, atol=1e-3)
