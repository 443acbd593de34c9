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
  a CUDA kernel. Here one path serves both: a loop over chunks of query rows compares each chunk
  with the band of son rows its windows touch (in blocks of 2·window query columns against the
  ≤ 2·window + 1 son columns their windows span), gathers each query's window from that, then
  takes an exact `lax.top_k`. Temporaries are per chunk, so memory is linear in
  the number of pixels. Distances are differentiable with respect to both embeddings.

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


def _union_rows(n1: int, s: int, rows_per_step: int) -> int:
    """Son rows that the windows of `rows_per_step` consecutive query rows can touch."""
    # Window starts grow by at most one per two query rows.
    return min(n1, s + rows_per_step // 2)


def _leading(first, ndim: int) -> tuple:
    """Start indices (first, 0, ..., 0) of a `ndim`-D dynamic slice, all int32 scalars: lax
    rejects start indices of mixed integer types, which Python zeros beside an int32 index
    become under JAX_ENABLE_X64."""
    zero = jnp.zeros((), jnp.int32)
    return (jnp.asarray(first, jnp.int32),) + (zero,) * (ndim - 1)


def _rows_topk(query, query_sq, database, database_sq, i0, rows, k, starts):
    """k nearest candidates of query rows i0 .. i0+rows-1.

    query (m1, m2, E), query_sq (m1, m2), database (n1, n2, E), database_sq (n1, n2); i0 traced.
    Returns dist (rows, m2, k), idx (rows, m2, k) int32.
    """
    m2, e = query.shape[1:]
    n1, n2, _ = database.shape
    y = lax.dynamic_slice(query, _leading(i0, 3), (rows, m2, e))
    y_sq = lax.dynamic_slice(query_sq, _leading(i0, 2), (rows, m2))
    if starts is None:
        cross = jnp.einsum("rje,ne->rjn", y, database.reshape(n1 * n2, e))
        dist = (-2 * cross + y_sq[..., None]) + database_sq.reshape(1, 1, n1 * n2)
        neg, idx = lax.top_k(-dist, k)
        return -neg, idx.astype(jnp.int32)

    row_starts, cols, s = starts
    r = lax.dynamic_slice(jnp.asarray(row_starts, jnp.int32), _leading(i0, 1), (rows,))
    union = _union_rows(n1, s, rows)
    u0 = jnp.minimum(r[0], n1 - union)
    slab = lax.dynamic_slice(database, _leading(u0, 3), (union, n2, e))
    slab_sq = lax.dynamic_slice(database_sq, _leading(u0, 2), (union, n2))
    row_idx = (r - u0)[:, None, None, None] + jnp.arange(s)[None, None, None, :]
    # Candidate (c, a) of query (ρ, j): son row r[ρ] + a, son column cols[j] + c. Query columns
    # go in static blocks of 2s, each compared with the son columns its windows span (≤ 2s + 1).
    cand = []
    for j0 in range(0, m2, 2 * s):
        j1 = min(m2, j0 + 2 * s)
        c0, c1 = int(cols[j0]), int(cols[j1 - 1]) + s
        cross = jnp.einsum("rje,ane->rjan", y[:, j0:j1], slab[:, c0:c1])  # (rows, bw, union, .)
        local = jnp.asarray(cols[j0:j1, None] - c0 + np.arange(s)[None, :], jnp.int32)
        cand.append(cross[jnp.arange(rows)[:, None, None, None],
                          jnp.arange(j1 - j0)[None, :, None, None], row_idx,
                          local[None, :, :, None]])
    cand = jnp.concatenate(cand, axis=1)  # (rows, m2, s_c, s_a)
    col_idx = jnp.asarray(cols[:, None] + np.arange(s)[None, :], jnp.int32)  # (m2, s)
    col_b = col_idx[None, :, :, None]
    dist = (-2 * cand + slab_sq[row_idx, col_b]) + (y_sq[:, :, None, None] + WINDOW_EPS)
    neg, loc = lax.top_k(-dist.reshape(rows, m2, s * s), k)
    c, a = loc // s, loc % s
    idx = (r[:, None, None] + a) * n2 + col_idx[jnp.arange(m2)[None, :, None], c]
    return -neg, idx.astype(jnp.int32)


def _auto_rows(m1, m2, n1, n2, e, starts):
    """Query rows per step: keeps the step's temporaries near a quarter of the query's size."""
    budget = max(m1 * m2 * e // 4, 1 << 18)

    def temporaries(rows):
        if starts is None:
            return 2 * rows * m2 * n1 * n2
        s = starts[2]
        union = _union_rows(n1, s, rows)
        return rows * m2 * union * min(n2, 2 * s + 1) + union * n2 * e + 3 * rows * m2 * s * s

    rows = m1
    while rows > 1 and temporaries(rows) > budget:
        rows = (rows + 1) // 2
    return rows


def _knn_single(query, database, k, starts, rows):
    m1, m2, _ = query.shape
    query_sq = jnp.sum(query ** 2, axis=-1)
    database_sq = jnp.sum(database ** 2, axis=-1)
    search = functools.partial(_rows_topk, query, query_sq, database, database_sq, rows=rows,
                               k=k, starts=starts)
    if rows >= m1:
        return search(0)
    steps = -(-m1 // rows)

    def body(step, out):
        # The last step is shifted back to end at row m1; rows it repeats get the same values.
        i0 = jnp.minimum(step * rows, m1 - rows)
        dist, idx = search(i0)
        return (lax.dynamic_update_slice(out[0], dist, _leading(i0, 3)),
                lax.dynamic_update_slice(out[1], idx, _leading(i0, 3)))

    init = (jnp.zeros((m1, m2, k), query.dtype), jnp.zeros((m1, m2, k), jnp.int32))
    return lax.fori_loop(0, steps, body, init)


@functools.partial(jax.jit, static_argnames=("k", "window", "scale", "chunk"))
def windowed_knn(query: jnp.ndarray, database: jnp.ndarray, k: int, window: int, scale: int,
                 chunk: Optional[int] = None) -> Tuple[jnp.ndarray, jnp.ndarray]:
    """Exact k nearest database patches of every query patch, inside IGNN's windows.

    query: (B, m1, m2, E) LR patch embeddings; database: (B, n1, n2, E) son patch embeddings;
    k: neighbours; window: window side in son patches; scale: the graph scale (window placement);
    chunk: query rows per step (None: as many as keep the step's temporaries near a quarter of
    the query embedding's size, so memory stays linear in the number of pixels).
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
        chunk = _auto_rows(m1, m2, n1, n2, e, starts)
    chunk = min(chunk, m1)
    return jax.vmap(lambda q, d: _knn_single(q, d, k, starts, chunk))(query, database)
