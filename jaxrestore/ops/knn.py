"""Cross-scale k-nearest-neighbour search between patch embeddings, windowed as in IGNN.

Every query patch (on the LR patch grid, m1×m2) looks for its k nearest database patches (on the
son patch grid, n1×n2) by squared Euclidean distance of their embeddings. As in the original
(sczhou/IGNN `models/graph_agg.py`), the candidates of a query are a window×window block of the
son grid placed by `index_neighbours`; when the window covers the whole son grid every son patch
is a candidate.

Differences from the original, on purpose:
- The original decides "whole grid" by flipping the global `cfg.NETWORK.WITH_WINDOW` to False the
  first time an image's son grid fits in the window, and that switch then stays off for every
  later image of the process (later, larger images are searched densely). It also caches index
  tensors in a module-level dict. Here the decision is made per call from the static shapes and
  nothing is cached or global.
- The original's training path builds the dense M×N distance matrix and its inference path needs
  a CUDA kernel. Here one path serves both: for each chunk of query rows only the son rows that
  their windows touch are compared (temporary memory bounded per chunk, total memory linear in the
  number of pixels), followed by an exact `lax.top_k`. Distances are differentiable with respect
  to both embeddings.

Numerics follow the original: d = |y|² + |x|² - 2 x·y in float32, plus 1e-5 on the windowed path
(both of the original's windowed paths add it; its whole-grid path does not).
"""
import functools
from typing import Optional, Tuple

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax

WINDOW_EPS = 1e-5
# Rough upper bound (float32 elements) of the per-step temporaries when `chunk` is None.
_AUTO_CHUNK_ELEMENTS = 1 << 22


def window_starts(query_grid: Tuple[int, int], database_grid: Tuple[int, int], window: int,
                  scale: int) -> Optional[Tuple[np.ndarray, np.ndarray, int]]:
    """First son-grid row/column of every query row/column's window, and the window side.

    Returns (row_start (m1,), col_start (m2,), s) as NumPy int arrays, or None when the window
    covers the whole son grid (window >= n1 and window >= n2: search everything). The placement
    is the original's: the query index is halved (a hard-coded `// 2`, whatever the scale),
    shifted back by `s // scale`, and clamped to the grid; the side is min(window, n1, n2).
    """
    (m1, m2), (n1, n2) = query_grid, database_grid
    if window < 1:
        raise ValueError(f"window must be >= 1, got {window}")
    if window >= n1 and window >= n2:
        return None
    s = min(window, n1, n2)
    rows = np.clip(np.arange(m1) // 2 - s // scale, 0, n1 - s)
    cols = np.clip(np.arange(m2) // 2 - s // scale, 0, n2 - s)
    return rows, cols, s


def window_indices(query_grid: Tuple[int, int], database_grid: Tuple[int, int], window: int,
                   scale: int) -> Optional[np.ndarray]:
    """The original's `index_neighbours` table: int32 (m1*m2, s*s) global son-patch indices.

    Row q = i*m2 + j is query patch (i, j); candidate o = c*s + a is son patch
    (row_start[i] + a, col_start[j] + c), i.e. the window is listed column by column, as the
    original does. None when the window covers the whole son grid.
    """
    starts = window_starts(query_grid, database_grid, window, scale)
    if starts is None:
        return None
    rows, cols, s = starts
    n2 = database_grid[1]
    off = np.arange(s)
    table = ((rows[:, None, None, None] + off[None, None, None, :]) * n2
             + cols[None, :, None, None] + off[None, None, :, None])
    return table.reshape(len(rows) * len(cols), s * s).astype(np.int32)


def _rows_topk(query_rows, query_sq, row0, database, database_sq, k, starts):
    """k nearest candidates for a block of query rows.

    query_rows (R, m2, E), query_sq (R, m2), row0 (R,) window start rows (ignored when dense),
    database (n1, n2, E), database_sq (n1, n2) → dist (R, m2, k), idx (R, m2, k) int32.
    """
    n1, n2, e = database.shape
    if starts is None:
        cross = jnp.einsum("rje,ne->rjn", query_rows, database.reshape(n1 * n2, e))
        dist = (-2 * cross + query_sq[..., None]) + database_sq.reshape(1, 1, n1 * n2)
        neg, idx = lax.top_k(-dist, k)
        return -neg, idx.astype(jnp.int32)

    _, cols, s = starts
    # Column gather, static: candidate (j, c) is son column cols[j] + c.
    col_idx = jnp.asarray(cols[:, None] + np.arange(s)[None, :], jnp.int32)  # (m2, s)

    def one_row(y, y_sq, r):
        slab = lax.dynamic_slice(database, (r, 0, 0), (s, n2, e))  # (s_a, n2, E)
        slab_sq = lax.dynamic_slice(database_sq, (r, 0), (s, n2))  # (s_a, n2)
        cross = jnp.einsum("je,ane->jna", y, slab)  # (m2, n2, s_a)
        cross = jnp.take_along_axis(cross, col_idx[:, :, None], axis=1)  # (m2, s_c, s_a)
        cand_sq = slab_sq.T[col_idx]  # (m2, s_c, s_a)
        dist = (-2 * cross + cand_sq) + (y_sq[:, None, None] + WINDOW_EPS)
        neg, loc = lax.top_k(-dist.reshape(-1, s * s), k)
        c, a = loc // s, loc % s
        idx = (r + a) * n2 + col_idx[jnp.arange(col_idx.shape[0])[:, None], c]
        return -neg, idx.astype(jnp.int32)

    return jax.vmap(one_row)(query_rows, query_sq, row0)


def _auto_chunk(m1, m2, n1, n2, e, starts):
    rows_touched = n1 if starts is None else starts[2]
    per_row = rows_touched * n2 * (m2 + (0 if starts is None else e))
    return int(max(1, min(m1, _AUTO_CHUNK_ELEMENTS // per_row)))


def _knn_single(query, database, k, starts, chunk):
    m1, m2, _ = query.shape
    query_sq = jnp.sum(query ** 2, axis=-1)
    database_sq = jnp.sum(database ** 2, axis=-1)
    row0 = jnp.asarray(np.zeros(m1) if starts is None else starts[0], jnp.int32)

    def step(xs):
        y, y_sq, r = xs
        return _rows_topk(y[None], y_sq[None], r[None], database, database_sq, k, starts)

    if chunk >= m1:
        return _rows_topk(query, query_sq, row0, database, database_sq, k, starts)
    dist, idx = lax.map(step, (query, query_sq, row0), batch_size=chunk)
    return dist[:, 0], idx[:, 0]


@functools.partial(jax.jit, static_argnames=("k", "window", "scale", "chunk"))
def windowed_knn(query: jnp.ndarray, database: jnp.ndarray, k: int, window: int, scale: int,
                 chunk: Optional[int] = None) -> Tuple[jnp.ndarray, jnp.ndarray]:
    """Exact k nearest database patches of every query patch, inside IGNN's windows.

    query: (B, m1, m2, E) LR patch embeddings; database: (B, n1, n2, E) son patch embeddings;
    k: neighbours; window: window side in son patches; scale: the graph scale (window placement);
    chunk: query rows per step (None: as many as keep the step's temporaries near 4M floats).
    Returns dist (B, m1, m2, k) squared L2 distances ascending and idx (B, m1, m2, k) int32
    row-major son-grid indices (son patch (r, c) is r*n2 + c). Ties keep candidate order.
    """
    b, m1, m2, e = query.shape
    b2, n1, n2, e2 = database.shape
    if (b, e) != (b2, e2):
        raise ValueError(f"query {query.shape} and database {database.shape} differ in batch or "
                         "embedding size")
    starts = window_starts((m1, m2), (n1, n2), window, scale)
    candidates = n1 * n2 if starts is None else starts[2] ** 2
    if not 1 <= k <= candidates:
        raise ValueError(f"k={k} must be between 1 and the {candidates} candidates per query")
    if chunk is None:
        chunk = _auto_chunk(m1, m2, n1, n2, e, starts)
    return jax.vmap(lambda q, d: _knn_single(q, d, k, starts, chunk))(query, database)
