"""XLA's own 2-D convolution (NHWC, HWIO), with derivatives of strided ones that run fast on CPU.

Reverse mode turns a stride-s convolution's input gradient into a convolution of the output
gradient dilated by s (`lhs_dilation`), which XLA CPU runs several times slower than the
forward: ~4× for the 5×5 stride-2 convolution of IGNN's GCN block (40×48²×32 → 24²). Over the
s×s phases of its input the same convolution is a sum of stride-1 ones,

    y[o] = Σ_u k[u] x_pad[s·o + u] = Σ_a Σ_v k[s·v + a] x_pad[s·(o + v) + a],

i.e. for each phase a the stride-1 correlation of x_pad[a::s] with k[a::s]; its transpose is
stride-1 convolutions, as fast as the forward. `direct_conv` keeps XLA's strided convolution
for values and gives its tangent in that phase form (`conv_tangent`), so reverse mode
transposes stride-1 convolutions.
"""
import functools

import jax
import jax.numpy as jnp
from jax.custom_derivatives import SymbolicZero

Padding = tuple[tuple[int, int], tuple[int, int]]


def direct_conv(x: jax.Array, kernel: jax.Array, padding: Padding, stride: int = 1) -> jax.Array:
    """XLA's own convolution: x (B,H,W,Cin), kernel (k1,k2,Cin,Cout), zero padding
    ((top, bottom), (left, right)) → (B, (H + top + bottom - k1) // s + 1, ..., Cout).

    Derivatives are XLA's, except that a strided convolution's input gradient is computed
    over its input's phases (module docstring).
    """
    padding = tuple(tuple(int(p) for p in pair) for pair in padding)
    if stride == 1:
        return _xla_conv(x, kernel, padding, 1)
    return _strided_conv(x, kernel, padding, stride)


def conv_tangent(x, dx, kernel, dkernel, padding: Padding, stride: int) -> jax.Array | None:
    """The tangent of `direct_conv` at (x, kernel) along (dx, dkernel), linear in them.

    dx term by `conv_by_phases` when stride > 1 (its transpose: stride-1 convolutions), dkernel
    term by XLA's convolution. A `SymbolicZero` tangent contributes nothing (both: None).
    """
    terms = []
    if not isinstance(dx, SymbolicZero):
        terms.append(conv_by_phases(dx, kernel, padding, stride) if stride > 1
                     else _xla_conv(dx, kernel, padding, 1))
    if not isinstance(dkernel, SymbolicZero):
        terms.append(_xla_conv(x, dkernel, padding, stride))
    return sum(terms[1:], terms[0]) if terms else None


def conv_by_phases(x: jax.Array, kernel: jax.Array, padding: Padding, stride: int) -> jax.Array:
    """`direct_conv` with stride s as the sum over the s×s phases (a, b) of the stride-1 valid
    convolutions of x_pad[a::s, b::s] with kernel[a::s, b::s] (equal up to float32 rounding).

    x (B,H,W,Cin), kernel (k1,k2,Cin,Cout) → as `direct_conv`. The phases are read by reshaping
    the padded input (B, H'/s, s, W'/s, s, C), not by strided slices.
    """
    (top, bottom), (left, right) = padding
    _, h, w, _ = x.shape
    k1, k2 = kernel.shape[:2]
    s = stride
    out_h, out_w = (h + top + bottom - k1) // s + 1, (w + left + right - k2) // s + 1
    # Phase a needs rows a + s·(o + v), o < out_h, v < ceil((k1 - a) / s): s·rows in all.
    rows, cols = s * (out_h + -(-k1 // s) - 1), s * (out_w + -(-k2 // s) - 1)
    x = jax.lax.pad(x, jnp.zeros((), x.dtype),
                    ((0, 0, 0), (top, rows - h - top, 0), (left, cols - w - left, 0), (0, 0, 0)))
    phases = x.reshape(x.shape[0], rows // s, s, cols // s, s, x.shape[-1])
    y = 0
    for a in range(min(s, k1)):
        for b in range(min(s, k2)):
            k_ab = kernel[a::s, b::s]
            x_ab = phases[:, :out_h + k_ab.shape[0] - 1, a, :out_w + k_ab.shape[1] - 1, b]
            y = y + _xla_conv(x_ab, k_ab, ((0, 0), (0, 0)), 1)
    return y


def _xla_conv(x, kernel, padding, stride):
    return jax.lax.conv_general_dilated(x, kernel, (stride, stride), padding,
                                        dimension_numbers=("NHWC", "HWIO", "NHWC"))


@functools.partial(jax.custom_jvp, nondiff_argnums=(2, 3))
def _strided_conv(x, kernel, padding, stride):
    return _xla_conv(x, kernel, padding, stride)


def _strided_conv_jvp(padding, stride, primals, tangents):
    (x, kernel), (dx, dkernel) = primals, tangents
    y = _strided_conv(x, kernel, padding, stride)
    tangent = conv_tangent(x, dx, kernel, dkernel, padding, stride)
    return y, jnp.zeros_like(y) if tangent is None else tangent


_strided_conv.defjvp(_strided_conv_jvp, symbolic_zeros=True)
