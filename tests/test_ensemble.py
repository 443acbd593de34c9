"""x8 dihedral transforms: oracle np.rot90/np.flip, exact inverses, equivariant ensembles."""
import itertools

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxrestore.ops.ensemble import dihedral, inverse_dihedral, self_ensemble

X = np.random.default_rng(0).random((2, 5, 7, 3)).astype(np.float32)  # non-square


@pytest.mark.parametrize("i", range(8))
def test_transform_matches_numpy_rot90_and_flip(i):
    expected = np.rot90(np.flip(X, axis=2) if i >= 4 else X, i % 4, axes=(1, 2))
    np.testing.assert_array_equal(dihedral(X, i), expected)
    np.testing.assert_array_equal(np.asarray(dihedral(jnp.asarray(X), i)), expected)


@pytest.mark.parametrize("i", range(8))
def test_inverse_is_exact_identity(i):
    np.testing.assert_array_equal(inverse_dihedral(dihedral(X, i), i), X)
    back = jax.jit(lambda v: inverse_dihedral(dihedral(v, i), i))(jnp.asarray(X))
    np.testing.assert_array_equal(np.asarray(back), X)
    # and the other order
    y = np.random.default_rng(i).random((1, 7, 5, 2)) if i % 2 else X
    np.testing.assert_array_equal(dihedral(inverse_dihedral(y, i), i), y)


def test_eight_transforms_are_distinct():
    square = np.random.default_rng(1).random((1, 6, 6, 1))
    outs = [dihedral(square, i) for i in range(8)]
    for a, b in itertools.combinations(range(8), 2):
        assert not np.array_equal(outs[a], outs[b]), (a, b)


def _nearest_x2(x):
    return x.repeat(2, axis=1).repeat(2, axis=2)


def test_ensemble_of_equivariant_functions_equals_the_function():
    pointwise = lambda v: v**2 + 1.0  # noqa: E731
    np.testing.assert_allclose(self_ensemble(pointwise, X), pointwise(X), rtol=1e-6)
    np.testing.assert_allclose(self_ensemble(_nearest_x2, X), _nearest_x2(X), rtol=1e-6)
    jitted = jax.jit(lambda v: self_ensemble(_nearest_x2, v))(jnp.asarray(X))
    np.testing.assert_allclose(np.asarray(jitted), _nearest_x2(X), rtol=1e-6)


def test_non_equivariant_function_is_changed():
    shift = lambda v: jnp.roll(v, 1, axis=2)  # noqa: E731  (not rotation equivariant)
    assert not np.allclose(np.asarray(self_ensemble(shift, jnp.asarray(X))), np.asarray(shift(X)))


def test_recomputed_son_equals_transformed_son():
    """The docstring's claim: MATLAB-bicubic son of a transformed LR = transformed son."""
    from jaxrestore.ops.imresize import imresize_np

    lr = np.random.default_rng(3).random((1, 8, 12, 3)) * 255
    son = imresize_np(lr, 0.5)
    for i in range(8):
        np.testing.assert_allclose(imresize_np(dihedral(lr, i), 0.5), dihedral(son, i), atol=1e-9)


def test_bad_arguments():
    with pytest.raises(ValueError, match="0..7"):
        dihedral(X, 8)
    with pytest.raises(ValueError, match="NHWC"):
        dihedral(X[0], 1)
