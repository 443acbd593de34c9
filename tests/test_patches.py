"""Patch extraction/folding against hand-computed padding and NumPy loop transcriptions of the
original IGNN im2patch (zero pad, pyinn.im2col) and patch2im (col2im / col2im(ones), crop)."""
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxrestore.ops.patches import (cover_count, extract_patches, fold_patches, patch_grid,
                                   patch_padding)


@pytest.mark.parametrize("size,patch,stride,expected", [
    (48, 3, 2, (0, 1)),   # 45 % 2 = 1 → one row, at the bottom
    (7, 3, 2, (0, 0)),
    (9, 3, 4, (1, 1)),    # 6 → pad 2, split 1/1
    (8, 3, 4, (1, 2)),    # 5 → pad 3, floor on top, ceil at the bottom
    (2, 3, 2, (0, 1)),    # smaller than the patch
])
def test_patch_padding_hand_values(size, patch, stride, expected):
    assert patch_padding(size, size, patch, stride) == (expected, expected)


def _np_padding(size, p, s):
    """The original's rule, restated: pad until (size - p) is a multiple of s (up to p when
    smaller than the patch), the floor half on top/left."""
    total = p - size if size < p else (s - (size - p) % s) % s
    return total // 2, total - total // 2


def _np_extract(x, p, s):
    (t, bo), (l, r) = _np_padding(x.shape[1], p, s), _np_padding(x.shape[2], p, s)
    xp = np.pad(x, ((0, 0), (t, bo), (l, r), (0, 0)))
    m1 = (xp.shape[1] - p) // s + 1
    m2 = (xp.shape[2] - p) // s + 1
    out = np.zeros((x.shape[0], m1, m2, p, p, x.shape[3]), x.dtype)
    for i in range(m1):
        for j in range(m2):
            out[:, i, j] = xp[:, i * s:i * s + p, j * s:j * s + p, :]
    return out


def _np_fold(patches, hw, s, padding):
    (t, bo), (l, r) = padding
    b, m1, m2, p, _, c = patches.shape
    acc = np.zeros((b, hw[0] + t + bo, hw[1] + l + r, c))
    cnt = np.zeros_like(acc)
    for i in range(m1):
        for j in range(m2):
            acc[:, i * s:i * s + p, j * s:j * s + p] += patches[:, i, j]
            cnt[:, i * s:i * s + p, j * s:j * s + p] += 1
    return (acc / cnt)[:, t:t + hw[0], l:l + hw[1]]


CASES = [((2, 11, 8, 3), 3, 2), ((1, 9, 9, 2), 3, 3), ((1, 8, 13, 1), 3, 1), ((1, 12, 10, 2), 6, 4)]


@pytest.mark.parametrize("shape,patch,stride", CASES)
def test_extract_matches_loop_transcription(shape, patch, stride):
    x = np.random.default_rng(0).normal(size=shape).astype(np.float32)
    got = np.asarray(extract_patches(jnp.asarray(x), patch, stride))
    want = _np_extract(x, patch, stride)
    assert got.shape == want.shape
    assert got.shape[1:3] == patch_grid(shape[1], shape[2], patch, stride)
    np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize("shape,patch,stride", CASES)
def test_fold_matches_loop_transcription(shape, patch, stride):
    pad = patch_padding(shape[1], shape[2], patch, stride)
    m1, m2 = patch_grid(shape[1], shape[2], patch, stride)
    patches = np.random.default_rng(1).normal(
        size=(shape[0], m1, m2, patch, patch, shape[3])).astype(np.float32)
    got = fold_patches(jnp.asarray(patches), shape[1:3], stride, pad)
    np.testing.assert_allclose(got, _np_fold(patches, shape[1:3], stride, pad), atol=1e-6)


@pytest.mark.parametrize("shape,patch,stride", CASES)
def test_fold_of_extract_is_identity(shape, patch, stride):
    x = jax.random.normal(jax.random.key(2), shape)
    pad = patch_padding(shape[1], shape[2], patch, stride)
    back = jax.jit(lambda v: fold_patches(extract_patches(v, patch, stride), shape[1:3], stride,
                                          pad))(x)
    np.testing.assert_allclose(back, x, atol=1e-6)


def test_fold_rejects_mismatched_grid():
    with pytest.raises(ValueError, match="do not tile"):
        fold_patches(jnp.zeros((1, 4, 4, 3, 3, 1)), (12, 12), 2, ((0, 1), (0, 1)))
    with pytest.raises(ValueError, match="do not tile"):  # last row would be left uncovered
        fold_patches(jnp.zeros((1, 3, 3, 3, 3, 1)), (8, 7), 2, ((0, 0), (0, 0)))
    with pytest.raises(ValueError, match="no patch covers"):
        fold_patches(jnp.zeros((1, 3, 3, 2, 2, 1)), (8, 8), 3, ((0, 0), (0, 0)))


def test_cover_count_hand_values():
    """A 2×2 grid of 3×3 patches at stride 2 on a 5×5 canvas overlaps on row and column 2."""
    want = np.array([[1, 1, 2, 1, 1]] * 2 + [[2, 2, 4, 2, 2]] + [[1, 1, 2, 1, 1]] * 2)
    np.testing.assert_array_equal(cover_count((2, 2), 3, 2, (5, 5))[0, :, :, 0], want)
