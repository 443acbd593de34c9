"""Windowed cross-scale kNN against NumPy brute force, hand-built windows, and the original
IGNN's own arrays (../shared/ignn_reference: eval_I, eval_idx_k, eval_knn_dist)."""
import json

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxrestore.ops.knn import window_indices, windowed_knn
from jaxrestore.ops.patches import extract_patches


def _np_window_table(m, n, window, scale):
    """Transcription of the original index_neighbours, loop by loop (None: whole grid)."""
    (m1, m2), (n1, n2) = m, n
    if window >= n1 and window >= n2:
        return None
    s = min(window, n1, n2)
    table = np.zeros((m1 * m2, s * s), np.int64)
    for i in range(m1):
        ch = min(max(i // 2 - s // scale, 0), n1 - s)
        for j in range(m2):
            cw = min(max(j // 2 - s // scale, 0), n2 - s)
            for p in range(s):      # ih: column offset, the slower index of o
                for q in range(s):  # iw * n2: row offset
                    table[i * m2 + j, p * s + q] = ch * n2 + cw + p + q * n2
    return table


def _np_knn(query, database, k, window, scale):
    """Brute force in float64: exact squared distances, stable sort, the original's + 1e-5."""
    b, m1, m2, e = query.shape
    _, n1, n2, _ = database.shape
    q = query.reshape(b, m1 * m2, e).astype(np.float64)
    d = database.reshape(b, n1 * n2, e).astype(np.float64)
    full = ((q[:, :, None, :] - d[:, None, :, :]) ** 2).sum(-1)  # (b, M, N)
    table = _np_window_table((m1, m2), (n1, n2), window, scale)
    if table is None:
        cand, dist = np.broadcast_to(np.arange(n1 * n2), full.shape), full
    else:
        cand = np.broadcast_to(table, (b,) + table.shape)
        dist = np.take_along_axis(full, cand, axis=2) + 1e-5
    order = np.argsort(dist, axis=2, kind="stable")[:, :, :k]
    shape = (b, m1, m2, k)
    return (np.take_along_axis(dist, order, 2).reshape(shape),
            np.take_along_axis(cand, order, 2).reshape(shape))


def test_window_indices_by_hand():
    # son grid 3×5, window 2, scale 2: starts = clip(index//2 - 1, 0, grid - 2).
    table = window_indices((7, 8), (3, 5), window=2, scale=2)
    assert table.shape == (56, 4) and table.dtype == np.int32
    # query (3, 3): rows 0..1, cols 0..1, listed column by column.
    np.testing.assert_array_equal(table[3 * 8 + 3], [0, 5, 1, 6])
    # query (0, 7): 7//2 - 1 = 2 → cols 2..3.
    np.testing.assert_array_equal(table[7], [2, 7, 3, 8])
    # query (6, 0): 6//2 - 1 = 2, clamped to n1 - s = 1 → rows 1..2.
    np.testing.assert_array_equal(table[6 * 8], [5, 10, 6, 11])


def test_window_indices_whole_grid_and_clamped_side():
    assert window_indices((6, 6), (3, 5), window=5, scale=2) is None
    # window covers the rows but not the columns: side shrinks to min(window, n1, n2) = 3.
    table = window_indices((6, 14), (3, 7), window=5, scale=3)
    np.testing.assert_array_equal(table, _np_window_table((6, 14), (3, 7), 5, 3))
    assert table.shape == (84, 9)


@pytest.mark.parametrize("m,n,window,scale", [
    ((11, 13), (6, 7), 3, 2),   # windowed, clamped on both sides
    ((12, 9), (4, 3), 2, 3),    # x3: hard-coded //2 pushes most windows to the bottom edge
    ((7, 9), (4, 9), 5, 2),     # window covers the rows only: side = 4
    ((6, 5), (3, 4), 4, 2),     # whole grid
])
def test_window_indices_match_original_transcription(m, n, window, scale):
    got = window_indices(m, n, window, scale)
    want = _np_window_table(m, n, window, scale)
    if want is None:
        assert got is None
    else:
        np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize("m,n,window,scale,k,chunk", [
    ((9, 10), (5, 6), 3, 2, 4, None),
    ((9, 10), (5, 6), 3, 2, 4, 2),    # lax.map over query rows, ragged last chunk
    ((12, 9), (4, 3), 2, 3, 3, 5),
    ((7, 9), (4, 9), 5, 2, 5, None),
    ((6, 5), (3, 4), 4, 2, 5, None),  # whole grid, no + 1e-5
    ((6, 5), (3, 4), 4, 2, 5, 1),
])
def test_windowed_knn_matches_brute_force(m, n, window, scale, k, chunk):
    rng = np.random.default_rng(0)
    query = rng.normal(size=(2, *m, 7)).astype(np.float32)
    database = rng.normal(size=(2, *n, 7)).astype(np.float32)
    dist, idx = windowed_knn(jnp.asarray(query), jnp.asarray(database), k, window, scale,
                             chunk=chunk)
    want_dist, want_idx = _np_knn(query, database, k, window, scale)
    assert idx.dtype == jnp.int32 and idx.shape == (2, *m, k)
    np.testing.assert_array_equal(idx, want_idx)
    np.testing.assert_allclose(dist, want_dist, rtol=1e-5, atol=1e-5)


def test_ties_keep_candidate_order():
    query = jnp.zeros((1, 4, 4, 3))
    database = jnp.ones((1, 3, 5, 3))
    _, idx = windowed_knn(query, database, 3, 2, 2)
    np.testing.assert_array_equal(idx.reshape(16, 3), _np_window_table((4, 4), (3, 5), 2, 2)[:, :3])
    _, idx = windowed_knn(query, database, 3, 8, 2)
    np.testing.assert_array_equal(idx.reshape(16, 3), np.tile([0, 1, 2], (16, 1)))


def test_bad_k_is_a_clear_error():
    with pytest.raises(ValueError, match="candidates"):
        windowed_knn(jnp.zeros((1, 4, 4, 2)), jnp.zeros((1, 3, 3, 2)), 5, 2, 2)


def test_vmap_equals_loop_and_no_retrace():
    rng = np.random.default_rng(1)
    query = jnp.asarray(rng.normal(size=(3, 1, 8, 9, 5)), jnp.float32)
    database = jnp.asarray(rng.normal(size=(3, 1, 4, 6, 5)), jnp.float32)
    traces = []

    @jax.jit
    def search(q, d):
        traces.append(1)
        return windowed_knn(q, d, 3, 3, 2)

    batched = jax.vmap(search)(query, database)
    for i in range(3):
        single = search(query[i], database[i])
        np.testing.assert_array_equal(batched[1][i], single[1])
        np.testing.assert_allclose(batched[0][i], single[0], rtol=1e-6)
    count = len(traces)
    search(query[2] * 3, database[0])
    search(query[1], database[2] + 1)
    assert len(traces) == count  # same shapes, new values: no new trace
    before = windowed_knn._cache_size()
    windowed_knn(query[0] + 1, database[0], 3, 3, 2)
    windowed_knn(query[1], database[1] * 2, 3, 3, 2)
    assert windowed_knn._cache_size() == before + 1


@pytest.mark.parametrize("chunk", [None, 2])  # one step, and a loop over row chunks
def test_distance_gradients_wrt_both_embeddings(chunk):
    rng = np.random.default_rng(2)
    query = rng.normal(size=(1, 6, 6, 4)).astype(np.float32)
    database = rng.normal(size=(1, 4, 5, 4)).astype(np.float32)
    k = 3
    weights = rng.normal(size=(1, 6, 6, k)).astype(np.float32)

    def loss(q, d):
        dist, _ = windowed_knn(q, d, k, 3, 2, chunk=chunk)
        return jnp.sum(dist * weights)

    gq, gd = jax.grad(loss, argnums=(0, 1))(jnp.asarray(query), jnp.asarray(database))
    # d/dq |q - x|² = 2 (q - x), and its negative for x, with the neighbours held fixed.
    _, idx = _np_knn(query, database, k, 3, 2)
    q, d = query.reshape(36, 4), database.reshape(20, 4)
    want_q, want_d = np.zeros_like(q), np.zeros_like(d)
    for qi, (nbrs, w) in enumerate(zip(idx.reshape(36, k), weights.reshape(36, k))):
        for n, wk in zip(nbrs, w):
            want_q[qi] += 2 * wk * (q[qi] - d[n])
            want_d[n] -= 2 * wk * (q[qi] - d[n])
    np.testing.assert_allclose(np.asarray(gq).reshape(36, 4), want_q, rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(np.asarray(gd).reshape(20, 4), want_d, rtol=1e-4, atol=1e-4)


def _nhwc_patch_embedding(nchw, patch=3, stride=2):
    x = jnp.asarray(np.load(nchw).transpose(0, 2, 3, 1))
    p = extract_patches(x, patch, stride)
    return p.reshape(p.shape[:3] + (-1,))


def test_reproduces_original_ignn_search(ignn_reference):
    """Every forward reference case (the folders with embeddings; the `train_*` single training
    steps have none): window table, neighbour indices exactly, distances 1e-5 relative."""
    cases = sorted(p.parent for p in ignn_reference.glob("*/eval_ye.npy"))
    assert cases, f"no reference cases under {ignn_reference}"
    for case in cases:
        meta = json.loads((case / "meta.json").read_text())
        scale = 2 if meta["scale"] == 4 else meta["scale"]  # IGNN x4 runs its graph at x2
        window = meta["cfg_network"]["WINDOW_SIZE"]
        k = meta["cfg_network"]["N_REIGHBOR"]
        query = _nhwc_patch_embedding(case / "eval_ye.npy")
        database = _nhwc_patch_embedding(case / "eval_xe.npy")
        table = window_indices(query.shape[1:3], database.shape[1:3], window, scale)
        if (case / "eval_I.npy").exists():
            np.testing.assert_array_equal(table, np.load(case / "eval_I.npy")[0],
                                          err_msg=case.name)
        else:
            assert table is None, case.name
        dist, idx = windowed_knn(query, database, k, window, scale)
        want_idx = np.load(case / "eval_idx_k.npy")
        want_dist = np.load(case / "eval_knn_dist.npy")
        np.testing.assert_array_equal(np.asarray(idx).reshape(want_idx.shape), want_idx,
                                      err_msg=case.name)
        np.testing.assert_allclose(np.asarray(dist).reshape(want_dist.shape), want_dist,
                                   rtol=1e-5, err_msg=case.name)
