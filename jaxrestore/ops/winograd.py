"""3×3 stride-1 and 5×5 stride-2 convolutions by Winograd's minimal filtering F(4×4, r×r), NHWC.

Each (3+r)×(3+r) input tile and each r×r kernel are taken to a "transform" domain (`B^T d B`,
`G g G^T`), where the convolution of the tile becomes (3+r)² independent channel matrix
products, one per transform position; `A^T m A` takes their results back to the tile's 4×4
outputs. For 3×3 that is 36 multiplies per input-output channel pair where the direct
convolution needs 16 × 9 = 144, so on CPUs, where XLA's direct 3×3 convolution already runs
near the matrix-multiply rate, it is the way to fewer FLOPs: at 128²×256 on a 2-core CPU ~1.4×
faster alone (bench/conv_throughput.py) and ~2× in a chain of layers, where the output
rearrangement fuses with the next one. All three transforms are single matrix products with
Kronecker matrices (B^T ⊗ B^T, G ⊗ G, A^T ⊗ A^T), which XLA runs far faster than the separable
form. A 5×5 stride-2 convolution is the sum of four stride-1 ones over the 2×2 phases of its
input (polyphase), with 3×3, 3×2, 2×3 and 2×2 kernels, each by F(4×4, r1×r2).

The matrices are the Toom-Cook construction on the points (0, 1, -1, 1/2, -2, ∞) (F(4, 3)) and
(0, 1, -1, 1/2, ∞) (F(4, 2)). Among the usual choices these keep float32 error lowest: on
N(0, 1) inputs and He-scaled 256-channel kernels the root-mean-square error of the 3×3
convolution against a float64 one is ~3× that of XLA's direct float32 convolution (the
canonical points 0, ±1, ±2 give ~4×). Works under `jit` and `vmap`; derivatives (forward and
reverse mode) are computed by XLA's direct convolution.
"""
import functools

import jax
import jax.numpy as jnp
import numpy as np

from jaxrestore.ops.direct_conv import conv_tangent

TILE = 4                                  # outputs per tile side (the m of F(m, r))
POINTS = (0.0, 1.0, -1.0, 0.5, -2.0)      # finite points of F(4, 3), ∞ the sixth; F(4, 2) takes
                                          # the first four


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


@functools.cache
def transforms(r1: int, r2: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """float32 Kronecker transforms of F(4×4, r1×r2), n = 3 + r: input B^T ⊗ B^T (n1n2, n1n2),
    kernel G ⊗ G (n1n2, r1r2), output A^T ⊗ A^T (16, n1n2); position index i*n2 + j."""
    (a1, g1, b1), (a2, g2, b2) = (toom_cook_matrices(POINTS[:TILE + r - 2], TILE, r)
                                  for r in (r1, r2))
    return tuple(np.kron(u, v).astype(np.float32) for u, v in ((b1, b2), (g1, g2), (a1, a2)))


def transform_kernel(kernel: jax.Array, after: jax.Array | None = None) -> jax.Array:
    """Winograd domain `G g G^T` of every input-output pair: (r1,r2,Cin,Cout) →
    ((3+r1)(3+r2), Cin, Cout), r ∈ {2, 3}.

    after: an array the transform is made to wait for (the convolution's input), so that XLA
    cannot compute it earlier (see `_zero_depending_on`).
    """
    r1, r2 = kernel.shape[:2]
    if not {r1, r2} <= {2, 3}:
        raise ValueError(f"Winograd kernels are 3x3, 3x2, 2x3 or 2x2, got {r1}x{r2}")
    matrix = jnp.asarray(transforms(r1, r2)[1], kernel.dtype)
    if after is not None:
        matrix = matrix + _zero_depending_on(after).astype(kernel.dtype)
    return (matrix @ kernel.reshape(r1 * r2, -1)).reshape(matrix.shape[0], *kernel.shape[2:])


def _transformed_tiles(x: jax.Array, kernel_hw, tiles_hw) -> jax.Array:
    """B^T d B of every input tile: x (B, ≥4·th+r1-1, ≥4·tw+r2-1, C) → (n1n2, B·th·tw, C).

    n1 strided row slices hold the n1 tile rows of all tiles, then n2 strided column slices of
    those the n1·n2 positions (XLA compiles two such stages far faster than n1·n2 slices of x);
    one product with B^T ⊗ B^T transforms them.
    """
    (r1, r2), (tiles_h, tiles_w) = kernel_hw, tiles_hw
    n1, n2, c = TILE + r1 - 1, TILE + r2 - 1, x.shape[-1]
    rows = jnp.stack([x[:, i:i + TILE * tiles_h:TILE] for i in range(n1)])  # (n1, b, th, W, c)
    tiles = jnp.stack([rows[:, :, :, j:j + TILE * tiles_w:TILE] for j in range(n2)], 1)
    return (transforms(r1, r2)[0] @ tiles.reshape(n1 * n2, -1)).reshape(n1 * n2, -1, c)


def _output_transform(products: jax.Array, kernel_hw) -> jax.Array:
    """A^T M A of every tile: products (n1n2, B·th·tw, D) → (16, B·th·tw·D)."""
    return transforms(*kernel_hw)[2] @ products.reshape(products.shape[0], -1)


def _interleave(outputs: jax.Array, batch: int, tiles_hw, out_hw) -> jax.Array:
    """Each tile's 4×4 outputs (16, B·th·tw·D) into the image (B, out_h, out_w, D)."""
    (tiles_h, tiles_w), (out_h, out_w) = tiles_hw, out_hw
    y = outputs.reshape(TILE, TILE, batch, tiles_h, tiles_w, -1).transpose(2, 3, 0, 4, 1, 5)
    return y.reshape(batch, TILE * tiles_h, TILE * tiles_w, -1)[:, :out_h, :out_w]


def conv3x3_transformed(x: jax.Array, u: jax.Array, padding=((1, 1), (1, 1))) -> jax.Array:
    """`conv3x3` with a kernel already in the Winograd domain, u = transform_kernel(kernel).

    For applying one kernel to many inputs (e.g. inside a loop) without transforming it each
    time. x (B,H,W,Cin), u (36,Cin,Cout) → as `conv3x3`. Differentiable by JAX's own rules
    (slower than `conv3x3`'s derivatives).
    """
    padding = tuple(tuple(p) for p in padding)
    (top, bottom), (left, right) = padding
    b, h, w, _ = x.shape
    out_h, out_w = h + top + bottom - 2, w + left + right - 2
    if out_h < 1 or out_w < 1:
        raise ValueError(f"conv3x3: input {h}x{w} with padding {padding} leaves no output")
    tiles = (-(-out_h // TILE), -(-out_w // TILE))
    x = jnp.pad(x, ((0, 0), (top, bottom + TILE * tiles[0] - out_h),
                    (left, right + TILE * tiles[1] - out_w), (0, 0)))
    products = jnp.einsum("ptc,pcd->ptd", _transformed_tiles(x, (3, 3), tiles),
                          u.astype(x.dtype))                             # (36, b*th*tw, d)
    return _interleave(_output_transform(products, (3, 3)), b, tiles, (out_h, out_w))


@functools.partial(jax.custom_jvp, nondiff_argnums=(2,))
def conv3x3(x: jax.Array, kernel: jax.Array, padding=((1, 1), (1, 1))) -> jax.Array:
    """Cross-correlation like `lax.conv_general_dilated` with stride 1, by F(4×4, 3×3).

    x (B,H,W,Cin), kernel (3,3,Cin,Cout) HWIO, padding ((top, bottom), (left, right)) of zeros
    → (B, H + top + bottom - 2, W + left + right - 2, Cout). Any size: the padded input is
    extended with zeros to whole tiles and the output cropped.
    Derivatives are those of the convolution, computed by XLA's direct convolution (on CPU its
    transposed convolutions are faster than transposing the Winograd transforms).
    """
    if kernel.shape[:2] != (3, 3):
        raise ValueError(f"conv3x3 needs a 3x3 kernel, got {kernel.shape[:2]}")
    return conv3x3_transformed(x, transform_kernel(kernel, after=x), padding)


def _zero_depending_on(x: jax.Array) -> jax.Array:
    """An exact 0 that XLA cannot compute before x exists (whatever x holds, even NaN).

    Added to the kernel transform, it keeps XLA from transforming every layer's kernel up front:
    each transformed kernel is 4× the kernel, and a deep network's would all be alive at once
    (the full IGNN's XLA temporaries: 1.3 GB → 0.77 GB at LR 128²). An optimization barrier
    does not do it on CPU. min(i, 0) & max(i, 0) is 0 for every integer i.
    """
    bits = jax.lax.bitcast_convert_type(x.reshape(-1)[0], f"int{8 * x.dtype.itemsize}")
    return jnp.minimum(bits, 0) & jnp.maximum(bits, 0)


@conv3x3.defjvp
def _conv3x3_jvp(padding, primals, tangents):
    (x, kernel), (dx, dkernel) = primals, tangents
    return conv3x3(x, kernel, padding), conv_tangent(x, dx, kernel, dkernel, padding, 1)


PHASES = ((0, 0), (0, 1), (1, 0), (1, 1))   # (row, column) phases of a stride-2 convolution


def stride2_phase_kernels(kernel: jax.Array, after: jax.Array | None = None
                          ) -> tuple[jax.Array, ...]:
    """A 5×5 stride-2 kernel (5,5,Cin,Cout) as its four transformed phase kernels, in PHASES
    order: kernel[a::2, b::2] (3×3, 3×2, 2×3, 2×2) in the Winograd domain (`after` as in
    `transform_kernel`)."""
    if kernel.shape[:2] != (5, 5):
        raise ValueError(f"conv5x5_stride2 needs a 5x5 kernel, got {kernel.shape[:2]}")
    return tuple(transform_kernel(kernel[a::2, b::2], after) for a, b in PHASES)


def conv5x5_stride2_transformed(x: jax.Array, phase_kernels) -> jax.Array:
    """`conv5x5_stride2` with its kernel given as `stride2_phase_kernels(kernel)`.

    With zero padding 2, output o = Σ_u kernel[u] x_padded[2o + u] = Σ_a Σ_v kernel[2v + a]
    x_padded[2(o + v) + a]: for each phase a, a stride-1 convolution of x_padded[a::2] with
    kernel[a::2]. The four phases' outputs are summed before they are interleaved.
    """
    b, h, w, _ = x.shape
    out_h, out_w = -(-h // 2), -(-w // 2)
    tiles = (-(-out_h // TILE), -(-out_w // TILE))
    # Phase a of rows needs TILE * tiles + 2 rows: 2 * that + 1 padded rows in all.
    x = jnp.pad(x, ((0, 0), (2, 2 * TILE * tiles[0] + 5 - h - 2),
                    (2, 2 * TILE * tiles[1] + 5 - w - 2), (0, 0)))
    outputs = 0
    for (a, c), u in zip(PHASES, phase_kernels):
        kernel_hw = (3 - a, 3 - c)
        v = _transformed_tiles(x[:, a::2, c::2], kernel_hw, tiles)
        outputs += _output_transform(jnp.einsum("ptc,pcd->ptd", v, u.astype(x.dtype)), kernel_hw)
    return _interleave(outputs, b, tiles, (out_h, out_w))


@jax.custom_jvp
def conv5x5_stride2(x: jax.Array, kernel: jax.Array) -> jax.Array:
    """A 5×5 stride-2 convolution with zero padding 2 (PyTorch's), by Winograd over its phases.

    x (B,H,W,Cin), kernel (5,5,Cin,Cout) → (B, ⌈H/2⌉, ⌈W/2⌉, Cout). Derivatives by XLA's direct
    convolution, as `conv3x3` (the input gradient over phases, see `jaxrestore.ops.direct_conv`).
    """
    return conv5x5_stride2_transformed(x, stride2_phase_kernels(kernel, after=x))


@conv5x5_stride2.defjvp
def _conv5x5_stride2_jvp(primals, tangents):
    (x, kernel), (dx, dkernel) = primals, tangents
    return conv5x5_stride2(x, kernel), conv_tangent(x, dx, kernel, dkernel, ((2, 2), (2, 2)), 2)
