"""IGNN's GCN neighbour loop: each neighbour's HR aggregate, brought back to LR by three
convolutions, and both weighted and summed over the k neighbours, with a custom VJP.

For neighbour j of every query patch, `cross_scale_aggregate` reads its HR map (B,H*s,W*s,C);
a 5×5 stride-s convolution and two 3×3 ones (ReLUs between) take it back to LR. The k terms
are weighted by the GCN block's softmax weights and summed (the original's loop over k in
`GCNBlock.forward`).
"""
import functools

import jax
import jax.numpy as jnp

from jaxrestore.ops.aggregate import cross_scale_aggregate
from jaxrestore.ops.conv import conv2d, prepared_conv2d


def neighbour_terms(y, y_down, idx, w_lr, w_hr, down_convs, scale, patch, stride):
    """Σ over the n neighbours in idx of their weighted (lr (B,H,W,C), hr (B,H*s,W*s,C)) terms.

    y (B,H,W,C), y_down = pixel_unshuffle(y, s); idx (B,m1,m2,n) son-grid indices per query
    patch; w_lr (n,B,H,W,1), w_hr (n,B,H*s,W*s,1) their weights. The n HR aggregates go through
    the three functions `down_convs` (see `down_convs`) back to LR as one batch of B·n images.
    The terms are summed in neighbour order.
    """
    n, b = idx.shape[-1], y.shape[0]
    hr = cross_scale_aggregate(y, y_down, idx, scale, patch, stride, neighbours_in_batch=True)
    conv0, conv1, conv2 = down_convs
    lr = conv2(jax.nn.relu(conv1(jax.nn.relu(conv0(hr)))))                 # (b n) H W c
    hr, lr = (v.reshape((b, n) + v.shape[1:]) for v in (hr, lr))
    return (sum(lr[:, j] * w_lr[j] for j in range(n)),
            sum(hr[:, j] * w_hr[j] for j in range(n)))


def down_convs(down, scale, algorithm, prepared, dtype=jnp.float32):
    """The three convolutions of `down` ((kernel, bias) × 3: 5×5 stride s, 3×3, 3×3) as
    functions of x.

    prepared: kernels transformed once (`prepared_conv2d`, for inputs of `dtype`) for the
    forward loop; otherwise
    `conv2d` with its fast derivatives, the first one reading the HR aggregates through
    `_stored`.
    """
    strides = (scale, 1, 1)
    if prepared:
        return tuple(prepared_conv2d(k, b, st, algorithm, dtype)
                     for (k, b), st in zip(down, strides))
    (kernel, bias), rest = down[0], down[1:]
    first = lambda x: conv2d(_stored(x), kernel, bias, scale, algorithm)  # noqa: E731
    return (first,) + tuple(functools.partial(conv2d, kernel=k, bias=b, algorithm=algorithm)
                            for k, b in rest)


def _stored(x: jax.Array) -> jax.Array:
    """x (..., C) unchanged (for finite x), computed once into memory: the product with the C×C
    identity, which XLA does not fuse into the operations that read it.

    XLA CPU computes a convolution's kernel gradient from its input transposed to (C, H, W, N).
    For the HR aggregates it would otherwise recompute their fold inside that transposed copy,
    element by element: at IGNN-tiny's training shapes (batch 8 × 5 neighbours, 48²×32) 0.2 s,
    against ~0.01 s each for the product and the transpose of its stored result.
    """
    return jnp.einsum("...c,cd->...d", x, jnp.eye(x.shape[-1], dtype=x.dtype))


@functools.partial(jax.custom_vjp, nondiff_argnums=(6, 7, 8, 9))
def neighbour_sums(y, y_down, idx, w_lr, w_hr, down, scale, patch, stride, algorithm):
    """`neighbour_terms` of all k neighbours: idx (B,m1,m2,k), w_lr (k,B,H,W,1),
    w_hr (k,B,H*s,W*s,1), down as in `down_convs`, algorithm as in `conv2d` → (lr, hr).

    The values are always a `lax.scan`, one neighbour per step as the original's loop, with
    the kernels transformed once: the k HR aggregates never coexist, and training and inference
    compute bitwise the same outputs. Under differentiation the k neighbours also go as one
    batch, whose residuals (the k HR aggregates and the convolutions' activations) and VJP give
    the derivatives, not the scan's: XLA CPU runs the convolutions of a scan's backward
    while-loop through its slow naive emitter, ~50× slower than outside a loop. (The batched
    sums themselves are not used: their float32 rounding differs from the scan's, enough to
    flip ReLUs downstream and move gradients that nearly cancel; with the scan's values the
    step reproduces the original's recorded steps, tests/test_ignn_train_reference.py.)
    """
    convs = down_convs(down, scale, algorithm, prepared=True, dtype=y.dtype)

    def step(carry, xs):
        i, wl, wh = xs
        lr, hr = neighbour_terms(y, y_down, i[..., None], wl[None], wh[None], convs, scale,
                                 patch, stride)
        return (carry[0] + lr, carry[1] + hr), None

    b, h, w, c = y.shape
    zeros = (jnp.zeros((b, h, w, c), y.dtype),
             jnp.zeros((b, h * scale, w * scale, c), y.dtype))
    sums, _ = jax.lax.scan(step, zeros, (jnp.moveaxis(idx, -1, 0), w_lr, w_hr))
    return sums


def _neighbour_sums_fwd(y, y_down, idx, w_lr, w_hr, down, scale, patch, stride, algorithm):
    batched = lambda y, y_down, w_lr, w_hr, down: neighbour_terms(  # noqa: E731
        y, y_down, idx, w_lr, w_hr, down_convs(down, scale, algorithm, prepared=False), scale,
        patch, stride)
    _, vjp = jax.vjp(batched, y, y_down, w_lr, w_hr, down)
    return neighbour_sums(y, y_down, idx, w_lr, w_hr, down, scale, patch, stride, algorithm), vjp


def _neighbour_sums_bwd(scale, patch, stride, algorithm, vjp, cotangent):
    g_y, g_y_down, g_w_lr, g_w_hr, g_down = vjp(cotangent)
    return g_y, g_y_down, None, g_w_lr, g_w_hr, g_down


neighbour_sums.defvjp(_neighbour_sums_fwd, _neighbour_sums_bwd)
