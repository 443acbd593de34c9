"""Multi-head attention aggregation over graphs whose nodes are feature elements or patches.

No function here materialises an (all nodes × all nodes) matrix, so memory is linear in the
number of nodes, also under `grad`:

- `linear_graph_attention`: kernelised multi-head attention of every query node over every key
  node, A = D⁻¹ φ(Q) φ(K)ᵀ with φ = elu + 1, evaluated as φ(Q) (φ(K)ᵀ V) in time linear in
  the number of nodes (MAGN's element graph, default variant: nodes are feature positions).
Scores, rankings, softmaxes and image-wide means are computed in float32 whatever the dtype of
the inputs (bfloat16 models; float64 inputs: in float64); the results come back in the values'
dtype.

- `element_graph_attention`: softmax multi-head attention of every query node over every key
  node, in chunks of queries (MAGN's 'pooled' element graph: keys are a pooled grid; time
  O(queries × keys)).
- `block_graph_aggregate`: sparse multi-head attention of every node over a given candidate
  list, keeping each head's `top_k` best-scoring candidates, in chunks of nodes (MAGN's
  element-block graph: nodes are feature patches, candidates from `window_candidates`).

The chunked functions wrap each chunk in `jax.checkpoint`, so the backward pass recomputes one
chunk's scores at a time.
"""
import math
from typing import Callable, Tuple

import jax
import jax.numpy as jnp
import numpy as np


def map_query_chunks(fn: Callable, chunked: tuple, shared: tuple, chunk: int) -> jax.Array:
    """Applies `fn(*chunked_slices, *shared)` to chunks of axis 1 and concatenates the results.

    chunked: arrays of shape (B, N, ...) sliced along N into pieces of `chunk` (the tail is
    zero-padded and cropped again); shared: arrays passed whole to every call. `fn` must map
    slices of length `chunk` to an array of shape (B, chunk, ...). Each call is wrapped in
    `jax.checkpoint`, so the backward pass keeps one chunk's intermediates at a time.
    """
    n = chunked[0].shape[1]
    chunk = max(1, min(chunk, n))
    n_chunks = -(-n // chunk)
    pad = n_chunks * chunk - n

    def split(a):  # (B, N, ...) -> (n_chunks, B, chunk, ...)
        a = jnp.pad(a, [(0, 0), (0, pad)] + [(0, 0)] * (a.ndim - 2))
        a = a.reshape(a.shape[0], n_chunks, chunk, *a.shape[2:])
        return jnp.moveaxis(a, 1, 0)

    body = jax.checkpoint(lambda pieces: fn(*pieces, *shared))
    out = jax.lax.map(body, tuple(split(a) for a in chunked))  # (n_chunks, B, chunk, ...)
    out = jnp.moveaxis(out, 0, 1)
    out = out.reshape(out.shape[0], n_chunks * chunk, *out.shape[3:])
    return out[:, :n]


def element_graph_attention(q: jax.Array, k: jax.Array, v: jax.Array, *,
                            chunk: int = 1024) -> jax.Array:
    """Softmax attention of every query node over all key nodes, head by head.

    q: (B, N, H, D) queries; k: (B, M, H, D) keys; v: (B, M, H, Dv) values
    → (B, N, H, Dv), out[b, n, h] = Σ_m softmax_m(q[b,n,h]·k[b,m,h] / √D) v[b, m, h].
    Scores exist for `chunk` queries at a time: memory O(chunk · M + N), not O(N · M).
    """
    scale = 1.0 / math.sqrt(q.shape[-1])

    def attend(q_chunk, k, v):
        scores = jnp.einsum("bnhd,bmhd->bhnm", q_chunk, k,
                            preferred_element_type=jnp.promote_types(q.dtype, jnp.float32))
        weights = jax.nn.softmax(scores * scale, axis=-1)
        return jnp.einsum("bhnm,bmhd->bnhd", weights.astype(v.dtype), v)

    return map_query_chunks(attend, (q,), (k, v), chunk)


def positive_features(x: jax.Array) -> jax.Array:
    """φ(x) = elu(x) + 1 > 0, elementwise, written as exp(min(x, 0)) + max(x, 0) (the same
    function; about twice as fast as `jax.nn.elu`'s expm1 on CPU)."""
    return jnp.exp(jnp.minimum(x, 0.0)) + jnp.maximum(x, 0.0)


def linear_graph_attention(q: jax.Array, k: jax.Array, v: jax.Array, *,
                           eps: float = 1e-6) -> jax.Array:
    """Kernelised (linear) attention of every query node over all key nodes, head by head.

    q: (B, N, H, D) queries; k: (B, M, H, D) keys; v: (B, M, H, Dv) values → (B, N, H, Dv),
    out[b, n, h] = Σ_m a[n, m] v[b, m, h] with the attention adjacency
    a[n, m] = φ(q[b,n,h])·φ(k[b,m,h]) / Σ_m' φ(q[b,n,h])·φ(k[b,m',h]),  φ = elu + 1 > 0
    (Katharopoulos et al., ICML 2020): every row of a is positive and sums to 1.
    The adjacency is never formed: with each head's summary S = mean_m φ(k_m) v_mᵀ (D, Dv) and
    z = mean_m φ(k_m) (D,), out[n] = φ(q_n)ᵀS / (φ(q_n)ᵀz + eps). Each batch element has its
    own summary. Time O((N + M)·H²·D·Dv), memory O((N + M)·H·(D + Dv)): the heads' summaries
    are the diagonal blocks of one (H·D, H·Dv) product, which as a single matrix product runs
    faster on CPU than H small ones although it computes H times the entries.
    """
    b, n, h, d = q.shape
    m, dv = k.shape[1], v.shape[-1]
    dtype = v.dtype  # image-wide means are taken in float32 (or float64) whatever the dtype
    q, k, v = (a.astype(jnp.promote_types(dtype, jnp.float32)) for a in (q, k, v))
    phi_q = positive_features(q).reshape(b, n, h * d)
    phi_k = positive_features(k).reshape(b, m, h * d)
    key_head = np.repeat(np.eye(h, dtype=np.float32), d, axis=0)          # (H·D, H) one-hot
    value_head = np.repeat(np.eye(h, dtype=np.float32), dv, axis=0)       # (H·Dv, H)
    summary = jnp.einsum("bmc,bme->bce", phi_k, v.reshape(b, m, h * dv)) / m
    summary = summary * (key_head @ value_head.T)                         # (B, H·D, H·Dv)
    normaliser = jnp.mean(phi_k, axis=1)[:, :, None] * key_head           # (B, H·D, H)
    out = jnp.einsum("bnc,bce->bne", phi_q, jnp.concatenate([summary, normaliser], axis=-1))
    numerator, denominator = out[..., : h * dv], out[..., h * dv:]        # (B, N, H·Dv), (B, N, H)
    return (numerator.reshape(b, n, h, dv) / (denominator[..., None] + eps)).astype(dtype)


def window_candidates(grid: Tuple[int, int], window: int) -> np.ndarray:
    """Row-major indices of the window×window grid nodes centred on each node of a grid.

    grid: (m1, m2) → int32 (m1*m2, w1*w2) with w1 = min(window, m1), w2 = min(window, m2).
    The window of node (i, j) starts at row clip(i - w1 // 2, 0, m1 - w1) (columns likewise),
    so near the border it is shifted inwards and every node has the same number of candidates,
    itself included. Static shapes in, a NumPy constant out (usable under jit).
    """
    m1, m2 = grid
    w1, w2 = min(window, m1), min(window, m2)
    top = np.clip(np.arange(m1) - w1 // 2, 0, m1 - w1)            # (m1,)
    left = np.clip(np.arange(m2) - w2 // 2, 0, m2 - w2)           # (m2,)
    rows = top[:, None, None, None] + np.arange(w1)[None, None, :, None]
    cols = left[None, :, None, None] + np.arange(w2)[None, None, None, :]
    return (rows * m2 + cols).reshape(m1 * m2, w1 * w2).astype(np.int32)


def _gather_nodes(x: jax.Array, idx: jax.Array) -> jax.Array:
    """x: (B, M, ...), idx: (B, ...idx) ints in [0, M) → (B, ...idx, ...)."""
    return jax.vmap(lambda xb, ib: xb[ib])(x, idx)


def block_graph_aggregate(q: jax.Array, k: jax.Array, v: jax.Array, candidates: jax.Array,
                          top_k: int, *, chunk: int = 1024) -> jax.Array:
    """Top-k multi-head attention of each node over its candidate neighbours.

    q, k: (B, M, H, D) per-head node embeddings; v: (B, M, H, P) per-head node values;
    candidates: (B, M, K) int node indices (K >= top_k) → (B, M, H, P).
    For node n and head h the K candidates are scored s_j = q[n,h]·k[c_j,h] / √D, the top_k
    best are kept and their values averaged with softmax(s) weights (a graph convolution with
    an attention adjacency). The result does not depend on the order of the candidates.
    """
    if top_k > candidates.shape[-1]:
        raise ValueError(f"top_k={top_k} exceeds the {candidates.shape[-1]} candidates")
    scale = 1.0 / math.sqrt(q.shape[-1])

    def aggregate(q_chunk, cand_chunk, k, v):
        k_cand = _gather_nodes(k, cand_chunk)                         # (B, c, K, H, D)
        scores = jnp.einsum("bnhd,bnkhd->bnhk", q_chunk, k_cand,
                            preferred_element_type=jnp.promote_types(q.dtype, jnp.float32)
                            ) * scale
        best, pos = jax.lax.top_k(scores, top_k)                      # (B, c, H, top_k)
        chosen = jnp.take_along_axis(cand_chunk[:, :, None, :], pos, axis=-1)
        weights = jax.nn.softmax(best, axis=-1).astype(v.dtype)
        heads = jnp.arange(v.shape[2])[None, :, None]
        v_chosen = jax.vmap(lambda vb, cb: vb[cb, heads])(v, chosen)  # (B, c, H, top_k, P)
        return jnp.einsum("bnhk,bnhkp->bnhp", weights, v_chosen)

    return map_query_chunks(aggregate, (q, candidates), (k, v), chunk)
