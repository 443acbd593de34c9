"""3×3 stride-1 (and 5×5 stride-2) convolution by Winograd's minimal filtering F(4×4, 3×3), NHWC.

Each 6×6 input tile and each 3×3 kernel are taken to a 6×6 "transform" domain (`B^T d B`,
`G g G^T`), where the convolution of the tile becomes 36 independent channel matrix products,
one per transform position; `A^T m A` takes their results back to the tile's 4×4 outputs.
That is 36 multiplies per input-output channel pair where the direct convolution needs
16 × 9 = 144, so on CPUs, where XLA's direct 3×3 convolution already runs near the
matrix-multiply rate, it is the way to fewer FLOPs: at 128²×256 on a 2-core CPU ~1.4× faster
alone (bench/conv_throughput.py) and ~2× in a chain of layers, where the output rearrangement
fuses with the next one. All three transforms are single matrix products with Kronecker
matrices (B^T ⊗ B^T, G ⊗ G, A^T ⊗ A^T), which XLA runs far faster than the separable form.

The matrices are the Toom-Cook construction on the points (0, 1, -1, 1/2, -2, ∞). Among the
usual choices these keep float32 error lowest: on N(0, 1) inputs and He-scaled 256-channel
kernels the root-mean-square error against a float64 convolution is ~3× that of XLA's direct
float32 convolution (the canonical points 0, ±1, ±2 give ~4×). Works under `jit` and `vmap`;
derivatives (forward and reverse mode) are computed by XLA's direct convolution.
"""
import functools

import jax
import jax.numpy as jnp
import numpy as np

TILE = 4                                  # outputs per tile side (the m of F(m, 3))
POINTS = (0.0, 1.0, -1.0, 0.5, -2.0)      # finite interpolation points; ∞ is the sixth


def toom_cook_matrices(points=POINTS, m: int = TILE, r: int = 3):
    """F(m, r) matrices (A^T (m,n), G (n,r), B^T (n,n)), n = m + r - 1, float64.

    For any d (n,) and g (r,): `A^T ((G g) * (B^T d))` is the valid correlation
    `y[j] = Σ_k g[k] d[j + k]`, j < m. A^T is the Vandermonde matrix of the points (plus ∞),
    G the Lagrange-scaled one; B^T is solved from that identity.
    """
    n = m + r - 1
    a = np.asarray(points, np.float64)
    if a.shape != (n - 1,) or len(set(points)) != n - 1:
        raise ValueError(f"F({m},{r}) needs {n - 1} distinct finite points, got {points}")
    a_t = np.zeros((m, n))
    g = np.zeros((n, r))
    for i, ai in enumerate(a):
        lagrange = np.prod([ai - al for l, al in enumerate(a) if l != i])
        a_t[:, i] = ai ** np.arange(m)
        g[i] = ai ** np.arange(r) / lagrange
    a_t[m - 1, n - 1] = g[n - 1, r - 1] = 1.0        # the point at infinity
    # Σ_i A^T[j,i] G[i,k] B^T[i,l] = [l == j + k] for all j < m, k < r: n equations per column l.
    system = np.einsum("ji,ik->jki", a_t, g).reshape(m * r, n)
    target = np.array([[float(l == j + k) for l in range(n)] for j in range(m) for k in range(r)])
    b_t = np.linalg.lstsq(system, target, rcond=None)[0]
    if not np.allclose(system @ b_t, target, atol=1e-9):
        raise ValueError(f"points {points} do not give an exact F({m},{r})")
    return a_t, g, b_t


A_T, G, B_T = (np.asarray(t, np.float32) for t in toom_cook_matrices())
INPUT_TRANSFORM = np.kron(B_T, B_T)      # (36, 36): row i*6 + j, column a*6 + b
KERNEL_TRANSFORM = np.kron(G, G)         # (36, 9): G g G^T, column a*3 + b
OUTPUT_TRANSFORM = np.kron(A_T, A_T)     # (16, 36): row p*4 + q


def direct_conv3x3(x: jax.Array, kernel: jax.Array, padding) -> jax.Array:
    """XLA's own convolution with the signature of `conv3x3`."""
    return jax.lax.conv_general_dilated(x, kernel, (1, 1), padding,
                                        dimension_numbers=("NHWC", "HWIO", "NHWC"))


def transform_kernel(kernel: jax.Array) -> jax.Array:
    """Winograd domain `G g G^T` of every input-output pair: (3,3,Cin,Cout) → (36,Cin,Cout)."""
    if kernel.shape[:2] != (3, 3):
        raise ValueError(f"conv3x3 needs a 3x3 kernel, got {kernel.shape[:2]}")
    return (KERNEL_TRANSFORM @ kernel.reshape(9, -1)).reshape((TILE + 2) ** 2, *kernel.shape[2:])


def conv3x3_transformed(x: jax.Array, u: jax.Array, padding=((1, 1), (1, 1))) -> jax.Array:
    """`conv3x3` with a kernel already in the Winograd domain, u = transform_kernel(kernel).

    For applying one kernel to many inputs (e.g. inside a loop) without transforming it each
    time. x (B,H,W,Cin), u (36,Cin,Cout) → as `conv3x3`. Differentiable by JAX's own rules
    (slower than `conv3x3`'s derivatives).
    """
    padding = tuple(tuple(p) for p in padding)
    m, n = TILE, TILE + 2
    (top, bottom), (left, right) = padding
    b, h, w, c = x.shape
    out_h, out_w = h + top + bottom - 2, w + left + right - 2
    if out_h < 1 or out_w < 1:
        raise ValueError(f"conv3x3: input {h}x{w} with padding {padding} leaves no output")
    tiles_h, tiles_w = -(-out_h // m), -(-out_w // m)
    x = jnp.pad(x, ((0, 0), (top, bottom + m * tiles_h - out_h),
                    (left, right + m * tiles_w - out_w), (0, 0)))
    # Input transform B^T d B of every tile as one product with B^T ⊗ B^T (36×36): the 36
    # strided slices hold the 36 positions of all tiles at once.
    tiles = jnp.stack([x[:, i:i + m * tiles_h:m, j:j + m * tiles_w:m]
                       for i in range(n) for j in range(n)])             # (36, b, th, tw, c)
    v = (INPUT_TRANSFORM @ tiles.reshape(n * n, -1)).reshape(n * n, -1, c)
    products = jnp.einsum("ptc,pcd->ptd", v, u.astype(x.dtype))          # (36, b*th*tw, d)
    # Output transform A^T M A, as one product with A^T ⊗ A^T (16×36); then interleave each
    # tile's 4×4 outputs.
    y = (OUTPUT_TRANSFORM @ products.reshape(n * n, -1)).reshape(m, m, b, tiles_h, tiles_w, -1)
    y = y.transpose(2, 3, 0, 4, 1, 5)                                   # b th p tw q d
    return y.reshape(b, m * tiles_h, m * tiles_w, -1)[:, :out_h, :out_w]


@functools.partial(jax.custom_jvp, nondiff_argnums=(2,))
def conv3x3(x: jax.Array, kernel: jax.Array, padding=((1, 1), (1, 1))) -> jax.Array:
    """Cross-correlation like `lax.conv_general_dilated` with stride 1, by F(4×4, 3×3).

    x (B,H,W,Cin), kernel (3,3,Cin,Cout) HWIO, padding ((top, bottom), (left, right)) of zeros
    → (B, H + top + bottom - 2, W + left + right - 2, Cout). Any size: the padded input is
    extended with zeros to whole tiles and the output cropped.
    Derivatives are those of the convolution, computed by XLA's direct convolution (on CPU its
    transposed convolutions are faster than transposing the Winograd transforms).
    """
    kernel = kernel + _zero_depending_on(x).astype(kernel.dtype)
    return conv3x3_transformed(x, transform_kernel(kernel), padding)


def _zero_depending_on(x: jax.Array) -> jax.Array:
    """An exact 0 that XLA cannot compute before x exists (whatever x holds, even NaN).

    Added to a kernel, it keeps XLA from transforming every layer's kernel up front: each
    transformed kernel is 4× the kernel, and a deep network's would all be alive at once
    (the full IGNN's XLA temporaries: 1.3 GB → 0.77 GB at LR 128²). An optimization barrier
    does not do it on CPU. min(i, 0) & max(i, 0) is 0 for every integer i.
    """
    bits = jax.lax.bitcast_convert_type(x.reshape(-1)[0], f"int{8 * x.dtype.itemsize}")
    return jnp.minimum(bits, 0) & jnp.maximum(bits, 0)


@conv3x3.defjvp
def _conv3x3_jvp(padding, primals, tangents):
    (x, kernel), (dx, dkernel) = primals, tangents
    tangent = direct_conv3x3(dx, kernel, padding) + direct_conv3x3(x, dkernel, padding)
    return conv3x3(x, kernel, padding), tangent


def space_to_depth_kernel(kernel: jax.Array) -> jax.Array:
    """A 5×5 stride-2 kernel (5,5,Cin,Cout) as the 3×3 kernel (3,3,4Cin,Cout) that convolves the
    `space_to_depth_input` (see `conv5x5_stride2`)."""
    if kernel.shape[:2] != (5, 5):
        raise ValueError(f"conv5x5_stride2 needs a 5x5 kernel, got {kernel.shape[:2]}")
    c = kernel.shape[2]
    kernel = jnp.pad(kernel, ((0, 1), (0, 1), (0, 0), (0, 0)))
    kernel = kernel.reshape(3, 2, 3, 2, c, -1).transpose(0, 2, 1, 3, 4, 5)
    return kernel.reshape(3, 3, 4 * c, -1)


def space_to_depth_input(x: jax.Array) -> jax.Array:
    """x (B,H,W,C) padded by 2 (PyTorch's) → its 2×2 phases (B, ⌈H/2⌉+2, ⌈W/2⌉+2, 4C)."""
    b, h, w, c = x.shape
    half_h, half_w = -(-h // 2) + 2, -(-w // 2) + 2
    x = jnp.pad(x, ((0, 0), (2, 2 * half_h - h - 2), (2, 2 * half_w - w - 2), (0, 0)))
    x = x.reshape(b, half_h, 2, half_w, 2, c).transpose(0, 1, 3, 2, 4, 5)
    return x.reshape(b, half_h, half_w, 4 * c)


def conv5x5_stride2(x: jax.Array, kernel: jax.Array) -> jax.Array:
    """A 5×5 stride-2 convolution with zero padding 2 (PyTorch's), by `conv3x3`.

    x (B,H,W,Cin), kernel (5,5,Cin,Cout) → (B, ⌈H/2⌉, ⌈W/2⌉, Cout). With the kernel extended to
    6×6 by zeros, output o = Σ_{u,a} kernel[2u + a] · x_padded[2(o + u) + a]: a 3×3 valid
    convolution over the space-to-depth input (the 2×2 phases a as 4·Cin channels).
    """
    return conv3x3(space_to_depth_input(x), space_to_depth_kernel(kernel), ((0, 0), (0, 0)))
