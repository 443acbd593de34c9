"""IGNN's GCN neighbour loop: its custom VJP against plain autodiff of an unrolled sum."""
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxrestore.ops import neighbour_loop
from jaxrestore.ops.patches import patch_grid
from jaxrestore.ops.pixel_shuffle import pixel_unshuffle


@pytest.mark.parametrize("algorithm", ["direct", "winograd"])
def test_neighbour_loop_gradient_is_plain_autodiff(algorithm):
    """The GCN loop's custom VJP (scan forward with prepared kernels, unrolled backward) gives
    the values and gradients of plain autodiff through an unrolled sum over the neighbours."""
    rng = np.random.default_rng(5)
    s, k, c, h, w = 2, 3, 4, 12, 10
    normal = lambda *shape: jnp.asarray(rng.normal(size=shape), jnp.float32)  # noqa: E731
    y = normal(1, h, w, c)
    son_cells = int(np.prod(patch_grid(h // s, w // s, 3, 2)))
    idx = jnp.asarray(rng.integers(0, son_cells, size=(1, *patch_grid(h, w, 3, 2), k)),
                      jnp.int32)
    w_lr, w_hr = normal(k, 1, h, w, 1), normal(k, 1, h * s, w * s, 1)
    down = tuple((0.1 * normal(size, size, c, c), normal(c)) for size in (5, 3, 3))

    def looped(y, w_lr, w_hr, down):
        convs = neighbour_loop.down_convs(down, s, "direct", prepared=False)
        terms = [neighbour_loop.neighbour_terms(y, pixel_unshuffle(y, s), idx[..., j], w_lr[j],
                                                w_hr[j], convs, s, 3, 2) for j in range(k)]
        return tuple(sum(t) for t in zip(*terms))

    def custom(y, w_lr, w_hr, down):
        return neighbour_loop.neighbour_sums(y, pixel_unshuffle(y, s), idx, w_lr, w_hr, down, s,
                                             3, 2, algorithm)

    loss = lambda f: lambda *a: sum(jnp.sum(jnp.sin(o)) for o in f(*a))  # noqa: E731
    args = (y, w_lr, w_hr, down)
    for got, want in zip(custom(*args), looped(*args)):
        np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-4)
    got = jax.grad(loss(custom), argnums=(0, 1, 2, 3))(*args)
    want = jax.grad(loss(looped), argnums=(0, 1, 2, 3))(*args)
    for g, v in zip(jax.tree.leaves(got), jax.tree.leaves(want)):
        np.testing.assert_allclose(g, v, rtol=1e-3, atol=1e-3)
