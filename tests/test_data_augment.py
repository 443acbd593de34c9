"""Augmentations: the 8 dihedral transforms (against hand-written flips/transposes) and IGNN's
channel permutation."""
import numpy as np
import pytest

from jaxrestore.data import augment

# The dihedral group of the square written out by hand on (H, W, C) arrays.
HAND_DIHEDRAL = {
    "identity": lambda a: a,
    "rot90": lambda a: a.swapaxes(0, 1)[::-1],        # counter-clockwise quarter turn
    "rot180": lambda a: a[::-1, ::-1],
    "rot270": lambda a: a[::-1].swapaxes(0, 1),
    "flip_lr": lambda a: a[:, ::-1],
    "flip_ud": lambda a: a[::-1],
    "transpose": lambda a: a.swapaxes(0, 1),
    "anti_transpose": lambda a: a[::-1, ::-1].swapaxes(0, 1),
}


def test_dihedral_is_the_whole_group():
    x = np.arange(3 * 3 * 2).reshape(3, 3, 2)
    ours = [augment.dihedral(x, k) for k in range(8)]
    hand = list(HAND_DIHEDRAL.values())
    matched = {name for name, f in HAND_DIHEDRAL.items()
               if any(np.array_equal(f(x), y) for y in ours)}
    assert matched == set(HAND_DIHEDRAL)
    assert len({y.tobytes() for y in ours}) == 8
    assert np.array_equal(ours[0], x)
    assert np.array_equal(ours[1], hand[1](x))  # k = 1: one counter-clockwise quarter turn
    assert np.array_equal(ours[4], hand[4](x))  # k = 4: mirror left-right
    assert np.array_equal(ours[5], hand[4](hand[1](x)))  # k = 5: quarter turn, then mirror


def test_dihedral_batched_and_non_square():
    x = np.random.default_rng(0).random((2, 4, 6, 3))
    for k in range(8):
        y = augment.dihedral(x, k)
        assert np.array_equal(y[1], augment.dihedral(x[1], k))
        assert y.shape[1:3] == ((4, 6) if k in (0, 2, 4, 6) else (6, 4))
    with pytest.raises(ValueError):
        augment.dihedral(x, 8)


def test_permutation_and_random_parameters():
    x = np.stack([np.full((2, 2), v) for v in (10, 20, 30)], -1)
    assert augment.permute_channels(x, (2, 0, 1))[0, 0].tolist() == [30, 10, 20]
    rng = np.random.default_rng(1)
    draws = [augment.random_augmentation(rng, 3, True) for _ in range(2000)]
    assert {d.k for d in draws} == set(range(8))
    perms = [d.perm for d in draws]
    unchanged = sum(p is None for p in perms) / len(perms)
    assert 0.17 < unchanged < 0.23  # IGNN applies RandomColorChannel to 80% of examples
    assert {p for p in perms if p is not None} == {
        (0, 1, 2), (0, 2, 1), (1, 0, 2), (1, 2, 0), (2, 0, 1), (2, 1, 0)}
    assert all(augment.random_augmentation(rng, 1, True).perm is None for _ in range(50))
    assert all(augment.random_augmentation(rng, 3, False).perm is None for _ in range(50))
    aug = augment.Augmentation(1, (2, 1, 0))
    assert np.array_equal(augment.apply_augmentation(x, aug),
                          HAND_DIHEDRAL["rot90"](x)[..., ::-1])
