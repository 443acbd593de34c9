"""experiments/graph_probe.py: its neighbour searches keep IGNN's windows and its variants change
only what they name (a tiny random IGNN on a 16×16 image; oracles: the original's window
table `window_indices`, hand-computed own positions, a brute-force NumPy nearest-patch search)."""
import importlib.util
import pathlib

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

from jaxrestore.models.ignn import IGNN
from jaxrestore.models.magn import MAGN, BlockGraph, ElementGraph
from jaxrestore.ops.knn import window_indices
from jaxrestore.ops.patches import patch_padding

REPO = pathlib.Path(__file__).resolve().parents[1]
_spec = importlib.util.spec_from_file_location("graph_probe",
                                               REPO / "experiments" / "graph_probe.py")
probe = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(probe)


def _embeddings(seed=0, query=(10, 9), database=(5, 6), e=4):
    rng = np.random.default_rng(seed)
    return (jnp.asarray(rng.normal(size=(2, *query, e)), jnp.float32),
            jnp.asarray(rng.normal(size=(2, *database, e)), jnp.float32))


def test_shuffled_and_random_neighbours_stay_in_each_querys_window():
    query, database = _embeddings()
    k, window, scale = 3, 3, 2                      # 3×3 windows inside a 5×6 son grid
    table = window_indices((10, 9), (5, 6), window, scale).reshape(10, 9, -1)
    _, knn_idx = probe.windowed_knn(query, database, k, window, scale)
    for search in (probe.shuffled_search(0), probe.random_search(0)):
        _, idx = search(query, database, k, window, scale)
        assert idx.shape == (2, 10, 9, k) and idx.dtype == jnp.int32
        idx = np.asarray(idx)
        inside = (idx[..., :, None] == table[None, :, :, None, :]).any(-1)
        assert inside.all()
        assert (idx != np.asarray(knn_idx)).mean() > 0.5     # not the kNN's neighbours
    _, shuffled = probe.shuffled_search(0)(query, database, k, window, scale)
    distinct = [len(set(row)) for row in np.asarray(shuffled).reshape(-1, k)]
    assert min(distinct) == k                        # a permutation keeps them distinct


def test_self_search_points_at_the_querys_own_position():
    query, database = _embeddings()
    _, idx = probe.self_search(query, database, 2, 3, 2)
    # query (i, j) → son (min(i // 2, 4), min(j // 2, 5)), row-major over 6 columns
    assert int(idx[1, 7, 3, 0]) == 3 * 6 + 1 and int(idx[0, 9, 8, 1]) == 4 * 6 + 4


def _patches_np(x, patch, stride):
    """(h, w, C) → (m1, m2, patch·patch·C) after IGNN's zero padding, by plain loops."""
    (top, bottom), (left, right) = patch_padding(x.shape[0], x.shape[1], patch, stride)
    x = np.pad(x, ((top, bottom), (left, right), (0, 0)))
    rows = range(0, x.shape[0] - patch + 1, stride)
    cols = range(0, x.shape[1] - patch + 1, stride)
    return np.array([[x[i:i + patch, j:j + patch].ravel() for j in cols] for i in rows])


def test_oracle_is_the_nearest_lr_patch_to_each_hr_patch():
    model = IGNN(scale=2, n_resblocks=2, n_feats=8, top_k=2, embedding="pixels")
    rng = np.random.default_rng(1)
    hr = rng.uniform(0, 255, (1, 32, 32, 3))
    lr = rng.uniform(0, 255, (1, 16, 16, 3))
    idx = np.asarray(probe.oracle_indices(model, {}, jnp.asarray(lr, jnp.float32),
                                          jnp.asarray(hr, jnp.float32)))
    q = _patches_np(hr[0] / 255, 6, 4)               # HR patches p·s = 6 at stride t·s = 4
    d = _patches_np(lr[0] / 255, 6, 4).reshape(-1, q.shape[-1])
    dist = ((q[:, :, None, :] - d[None, None]) ** 2).sum(-1)   # son grid 4×4 < window: all
    np.testing.assert_array_equal(idx[0, ..., 0], dist.argmin(-1))


def test_knn_variant_is_the_models_output_and_zero_changes_it():
    model = IGNN(scale=2, n_resblocks=2, n_feats=8, top_k=2)
    lr = jnp.asarray(np.random.default_rng(2).uniform(0, 1, (1, 16, 16, 3)), jnp.float32)
    hr = jnp.zeros((1, 32, 32, 3))
    variables = model.init(jax.random.PRNGKey(0), lr * 255)
    plain = model.apply(variables, lr * 255) / 255
    knn = probe.ignn_forward(model, variables, "knn")(lr, hr)
    np.testing.assert_array_equal(np.asarray(knn), np.asarray(plain))
    zero = probe.ignn_forward(model, variables, "zero")(lr, hr)
    assert np.abs(np.asarray(zero) - np.asarray(plain)).max() > 1e-6   # 0 if nothing zeroed


def test_magn_full_is_the_models_output_and_zeroing_a_level_changes_it():
    model = MAGN(in_channels=1, out_channels=1, n_feats=8, n_resblocks=0, n_graph_blocks=1,
                 heads=2, patch=3, stride=2, window=3, top_k=2, embed=4)
    x = jnp.asarray(np.random.default_rng(3).uniform(0, 1, (1, 12, 12, 1)), jnp.float32)
    variables = model.init(jax.random.PRNGKey(0), x)
    plain = np.asarray(model.apply(variables, x))
    np.testing.assert_array_equal(np.asarray(probe.magn_forward(model, variables, "full")(x, x)),
                                  plain)
    # (shuffled_element is checked on its own above: at initialisation the element messages
    # are nearly the same at every position, so permuting them moves this output by ~1e-7.)
    for variant in ("zero_element", "zero_block", "shuffled_block"):
        out = np.asarray(probe.magn_forward(model, variables, variant)(x, x))
        assert np.abs(out - plain).max() > 1e-6, variant


def test_shuffled_element_gives_each_position_another_positions_message():
    """The linear element graph's message at a position depends on its own query and the
    image-wide summary only, so with the queries permuted the output at position i must be
    the unshuffled output at position perm[i]."""
    graph = ElementGraph(heads=2)
    x = jnp.asarray(np.random.default_rng(4).normal(size=(2, 5, 6, 8)), jnp.float32)
    variables = graph.init(jax.random.PRNGKey(0), x)
    plain = np.asarray(graph.apply(variables, x)).reshape(2, 30, 8)
    with nn.intercept_methods(probe.shuffling(ElementGraph, "query", seed=3)):
        shuffled = np.asarray(graph.apply(variables, x)).reshape(2, 30, 8)
    perm = np.asarray(probe.node_permutation(3, 30))
    assert (perm != np.arange(30)).any()
    np.testing.assert_allclose(shuffled, plain[:, perm], rtol=1e-5, atol=1e-6)


def test_shuffled_block_changes_only_which_candidates_are_kept_and_how_weighted():
    """With one candidate per node (window 1) the keys cannot matter: shuffling them must leave
    the block graph's output as it is; with a 3×3 window it must change it."""
    x = jnp.asarray(np.random.default_rng(5).normal(size=(1, 12, 12, 8)), jnp.float32)
    for window, top_k, same in ((1, 1, True), (3, 2, False)):
        graph = BlockGraph(heads=2, patch=3, stride=2, window=window, top_k=top_k, embed=4)
        variables = graph.init(jax.random.PRNGKey(0), x)
        plain = np.asarray(graph.apply(variables, x))
        with nn.intercept_methods(probe.shuffling(BlockGraph, "key", seed=0)):
            shuffled = np.asarray(graph.apply(variables, x))
        assert np.array_equal(shuffled, plain) == same, window
