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


def neighbour_terms(y, y_down, i, w_lr, w_hr, down_convs, scale, patch, stride):
    """One neighbour's weighted (lr (B,H,W,C), hr (B,H*s,W*s,C)) terms.

    y (B,H,W,C), y_down = pixel_unshuffle(y, s); i (B,m1,m2) the neighbour's son-grid index per
    query patch; w_lr (B,H,W,1), w_hr (B,H*s,W*s,1) its weights. Its HR aggregate goes through
    the three functions `down_convs` (see `down_convs`) back to LR.
    """
    hr = cross_scale_aggregate(y, y_down, i[..., None], scale, patch, stride)  # b H*s W*s c
    conv0, conv1, conv2 = down_convs
    lr = conv2(jax.nn.relu(conv1(jax.nn.relu(conv0(hr)))))
    return lr * w_lr, hr * w_hr


def down_convs(down, scale, algorithm, prepared):
    """The three convolutions of `down` ((kernel, bias) × 3: 5×5 stride s, 3×3, 3×3) as
    functions of x.

    prepared: kernels transformed once (`prepared_conv2d`) for the forward loop; otherwise
    `conv2d` with its fast derivatives.
    """
    strides = (scale, 1, 1)
    if prepared:
        return tuple(prepared_conv2d(k, b, st, algorithm) for (k, b), st in zip(down, strides))
    return tuple(functools.partial(conv2d, kernel=k, bias=b, stride=st, algorithm=algorithm)
                 for (k, b), st in zip(down, strides))


@functools.partial(jax.custom_vjp, nondiff_argnums=(6, 7, 8, 9))
def neighbour_sums(y, y_down, idx, w_lr, w_hr, down, scale, patch, stride, algorithm):
    """Σ_j of `neighbour_terms` over the k neighbours: idx (B,m1,m2,k), w_lr (k,B,H,W,1),
    w_hr (k,B,H*s,W*s,1), down as in `down_convs`, algorithm as in `conv2d` → (lr, hr).

    The forward is a `lax.scan`, one neighbour per step as the original's loop, so the k HR
    aggregates never coexist (inference memory). The backward is unrolled over the k
    neighbours (recomputing each one's forward): XLA CPU runs the convolutions of a scan's
    backward while-loop through its slow naive emitter, ~50× slower than outside a loop.
    """
    convs = down_convs(down, scale, algorithm, prepared=True)

    def step(carry, xs):
        i, wl, wh = xs
        lr, hr = neighbour_terms(y, y_down, i, wl, wh, convs, scale, patch, stride)
        return (carry[0] + lr, carry[1] + hr), None

    b, h, w, c = y.shape
    zeros = (jnp.zeros((b, h, w, c), y.dtype),
             jnp.zeros((b, h * scale, w * scale, c), y.dtype))
    sums, _ = jax.lax.scan(step, zeros, (jnp.moveaxis(idx, -1, 0), w_lr, w_hr))
    return sums


def _neighbour_sums_fwd(y, y_down, idx, w_lr, w_hr, down, scale, patch, stride, algorithm):
    sums = neighbour_sums(y, y_down, idx, w_lr, w_hr, down, scale, patch, stride, algorithm)
    return sums, (y, y_down, idx, w_lr, w_hr, down)


def _neighbour_sums_bwd(scale, patch, stride, algorithm, residuals, cotangent):
    y, y_down, idx, w_lr, w_hr, down = residuals

    def neighbour_vjp(j):  # cotangents of (y, y_down, w_lr[j], w_hr[j], down)
        terms = lambda y, y_down, w_lr_j, w_hr_j, down: neighbour_terms(  # noqa: E731
            y, y_down, idx[..., j], w_lr_j, w_hr_j, down_convs(down, scale, algorithm, False),
            scale, patch, stride)
        return jax.vjp(terms, y, y_down, w_lr[j], w_hr[j], down)[1](cotangent)

    g_y, g_y_down, g_w_lr, g_w_hr, g_down = zip(*map(neighbour_vjp, range(idx.shape[-1])))
    total = lambda grads: jax.tree.map(lambda *g: sum(g), *grads)  # noqa: E731
    return (total(g_y), total(g_y_down), None, jnp.stack(g_w_lr), jnp.stack(g_w_hr),
            total(g_down))


neighbour_sums.defvjp(_neighbour_sums_fwd, _neighbour_sums_bwd)
