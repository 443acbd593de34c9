"""MATLAB `imresize` with the bicubic kernel, in JAX (jit/vmap/grad) and on the host in NumPy.

Semantics (MATLAB R2013+ `imresize(A, scale)` / `imresize(A, [h w])`, method 'bicubic'):

- Keys cubic kernel with a = -0.5, support [-2, 2].
- When shrinking (scale < 1) the kernel is widened by 1/scale (antialiasing, on by default).
- Output pixel k (1-based) samples input coordinate u = k/scale + 0.5 (1 - 1/scale); the taps
  are the P = ceil(kernel width) + 2 integers from floor(u - width/2); weights are normalised
  to sum to one; taps outside the image are folded back symmetrically (edge pixel repeated:
  ... 2 1 | 1 2 ... n | n n-1 ...); all-zero tap columns are dropped.
- Output size: ceil(scale * size) (products within 1e-10 of an integer are taken as that
  integer, so 3k * (1/3) gives k); with `output_shape`, scale = out / in per dimension.
- Dimension order: the dimension with the smaller scale is resized first (MATLAB's stable
  `sort(scale)`: rows first when the scales are equal).
- Integer input (uint8): every 1-D pass is rounded half away from zero and saturated to the
  dtype's range, and the result has the input dtype. Float input: no rounding, no clamping.

One definition of the weights, `contributions`, serves both paths: `imresize` multiplies by
the dense (out, in) matrices built from it (two matmuls, constants computed from the static
shapes, so it works under jit, vmap and grad); `imresize_np` gathers the taps and sums them in
MATLAB's order in float64, which is faster for large images on the host and bit-exact with
MATLAB's uint8 results.

Layouts: HW, HWC or NHWC (a rank-3 array is HWC; use NHW1 for batches of grey images).
"""
import functools
import math

import jax
import jax.numpy as jnp
import numpy as np

from jaxrestore.ops.quantize import round_half_away

KERNEL_WIDTH = 4.0  # support of the cubic kernel


def cubic(x: np.ndarray) -> np.ndarray:
    """Keys' cubic convolution kernel with a = -0.5 (MATLAB's 'bicubic')."""
    ax = np.abs(x)
    ax2, ax3 = ax**2, ax**3
    return (1.5 * ax3 - 2.5 * ax2 + 1.0) * (ax <= 1) + (
        -0.5 * ax3 + 2.5 * ax2 - 4.0 * ax + 2.0
    ) * ((ax > 1) & (ax <= 2))


def contributions(in_length: int, out_length: int, scale: float, antialiasing: bool = True):
    """MATLAB's `contributions`: the taps of each output pixel along one dimension.

    Returns (weights, indices), both (out_length, taps): float64 weights summing to one per
    row, and 0-based input indices already folded symmetrically into [0, in_length).
    """
    if scale < 1 and antialiasing:
        def kernel(d):
            return scale * cubic(scale * d)

        width = KERNEL_WIDTH / scale
    else:
        kernel, width = cubic, KERNEL_WIDTH
    x = np.arange(1, out_length + 1, dtype=np.float64)[:, None]  # 1-based output coordinates
    u = x / scale + 0.5 * (1 - 1 / scale)
    left = np.floor(u - width / 2)
    taps = math.ceil(width) + 2
    indices = left + np.arange(taps)[None, :]  # 1-based, may fall outside [1, in_length]
    weights = kernel(u - indices)
    weights = weights / weights.sum(axis=1, keepdims=True)
    fold = np.concatenate([np.arange(in_length), np.arange(in_length - 1, -1, -1)])
    indices = fold[np.mod(indices.astype(np.int64) - 1, 2 * in_length)]
    keep = np.any(weights != 0, axis=0)
    return weights[:, keep], indices[:, keep]


def resize_matrix(in_length: int, out_length: int, scale: float, antialiasing: bool = True):
    """(out_length, in_length) float64 matrix M with resized = M @ signal along one dimension."""
    weights, indices = contributions(in_length, out_length, scale, antialiasing)
    matrix = np.zeros((out_length, in_length))
    rows = np.broadcast_to(np.arange(out_length)[:, None], indices.shape)
    np.add.at(matrix, (rows, indices), weights)
    return matrix


def output_size(in_hw, scale=None, output_shape=None):
    """((out_h, out_w), (scale_h, scale_w)) from exactly one of `scale` and `output_shape`."""
    if (scale is None) == (output_shape is None):
        raise ValueError("imresize: give exactly one of scale and output_shape")
    if scale is not None:
        if not scale > 0:
            raise ValueError(f"imresize: scale must be positive, got {scale}")
        out_hw = tuple(math.ceil(round(n * scale, 10)) for n in in_hw)
        scales = (float(scale), float(scale))
    else:
        out_hw = tuple(int(n) for n in output_shape)
        if len(out_hw) != 2 or min(out_hw) < 1:
            raise ValueError(f"imresize: output_shape must be (h, w) >= 1, got {output_shape}")
        scales = tuple(o / i for o, i in zip(out_hw, in_hw))
    if min(out_hw) < 1:
        raise ValueError(f"imresize: {in_hw} scaled by {scale} is empty")
    return out_hw, scales


def _spatial_axes(ndim: int):
    if ndim not in (2, 3, 4):
        raise ValueError(f"imresize: expected HW, HWC or NHWC, got rank {ndim}")
    return (1, 2) if ndim == 4 else (0, 1)


def _round_saturate(y, dtype, xp):
    """MATLAB's conversion to an integer type: round half away from zero, saturate."""
    info = xp.iinfo(dtype)
    return xp.clip(round_half_away(y), info.min, info.max)


def _resize(x, scale, output_shape, antialiasing, resize_axis, compute_dtype, xp):
    """Shared driver: plan, order the two passes, round integer inputs after each pass."""
    axes = _spatial_axes(x.ndim)
    in_hw = (x.shape[axes[0]], x.shape[axes[1]])
    out_hw, scales = output_size(in_hw, scale, output_shape)
    integer = xp.issubdtype(x.dtype, xp.integer)
    if not (integer or xp.issubdtype(x.dtype, xp.floating)):
        raise ValueError(f"imresize: expected an integer or float image, got {x.dtype}")
    y = x.astype(compute_dtype if integer else x.dtype)
    for d in sorted((0, 1), key=lambda d: scales[d]):  # stable: rows first on ties
        y = resize_axis(y, axes[d], in_hw[d], out_hw[d], scales[d], antialiasing)
        if integer:
            y = _round_saturate(y, x.dtype, xp)
    return y.astype(x.dtype)


def _resize_axis_matmul(y, axis, in_length, out_length, scale, antialiasing):
    matrix = jnp.asarray(resize_matrix(in_length, out_length, scale, antialiasing), y.dtype)
    out = jnp.tensordot(matrix, y, axes=(1, axis), precision=jax.lax.Precision.HIGHEST)
    return jnp.moveaxis(out, 0, axis)


def _resize_axis_gather(y, axis, in_length, out_length, scale, antialiasing):
    weights, indices = contributions(in_length, out_length, scale, antialiasing)
    shape = [1] * y.ndim
    shape[axis] = out_length
    out = np.zeros(y.shape[:axis] + (out_length,) + y.shape[axis + 1:])
    for j in range(weights.shape[1]):  # MATLAB's summation order over the taps
        out += weights[:, j].reshape(shape) * np.take(y, indices[:, j], axis=axis)
    return out


def imresize(x, scale=None, output_shape=None, antialiasing: bool = True):
    """MATLAB bicubic `imresize` in JAX.

    x: (H, W), (H, W, C) or (N, H, W, C); float (any range, not clamped) or integer (MATLAB's
    rounding per pass). scale: factor (output size ceil(scale * size)); output_shape: (h, w).
    Returns the same layout with spatial size (h, w), in x's dtype. Integer inputs are computed
    in the default float (float32, float64 with jax_enable_x64); `imresize_np` is float64.
    `scale`, `output_shape` and `antialiasing` are static (they fix the weight matrices).
    """
    if output_shape is not None:
        output_shape = tuple(int(n) for n in output_shape)
    return _imresize_jit(x, scale, output_shape, antialiasing)


@functools.partial(jax.jit, static_argnums=(1, 2, 3))
def _imresize_jit(x, scale, output_shape, antialiasing):
    compute_dtype = jnp.asarray(0.0).dtype
    return _resize(x, scale, output_shape, antialiasing, _resize_axis_matmul, compute_dtype, jnp)


def imresize_np(x, scale=None, output_shape=None, antialiasing: bool = True) -> np.ndarray:
    """Host NumPy version of `imresize` (same semantics, computed in float64).

    Float inputs return x's dtype (float64 accumulation); integer inputs are bit-exact with
    MATLAB's uint8 `imresize`.
    """
    x = np.asarray(x)
    return _resize(x, scale, output_shape, antialiasing, _resize_axis_gather, np.float64, np)
