"""2-D convolutions with PyTorch's symmetric zero padding, by the algorithm that suits them, NHWC.

`conv2d` computes a convolution with padding (k - 1) // 2 either by XLA's own convolution
(`jaxrestore.ops.direct_conv`) or by Winograd minimal filtering (`jaxrestore.ops.winograd`:
3×3 stride 1 and 5×5 stride 2); `prepared_conv2d` is the same convolution as a function of the
input with the kernel transformed once, for one kernel applied to many inputs.

The algorithm is an explicit argument; nothing here looks at the machine. A model setting may
be 'auto', which `resolve_conv_algorithm` turns into one of `CONV_ALGORITHMS` once, for the
platforms the program will run on (at model build or Restorer creation, where it is recorded).
"""
from collections.abc import Callable, Sequence

import jax
import jax.numpy as jnp

from jaxrestore.ops.direct_conv import direct_conv
from jaxrestore.ops.winograd import (conv3x3, conv3x3_transformed, conv5x5_stride2,
                                     conv5x5_stride2_transformed, stride2_phase_kernels,
                                     transform_kernel)

CONV_ALGORITHMS = ("direct", "winograd", "winograd_wide")
AUTO = "auto"
WIDE = 64  # 'winograd_wide': Winograd from this many channels in and out


def resolve_conv_algorithm(algorithm: str, platforms: Sequence[str] | None = None) -> str:
    """A model's convolution setting → one of `CONV_ALGORITHMS`, for programs that will run on
    `platforms` (e.g. ('cpu',), ('cpu', 'cuda'); None: this process's default backend).

    'auto' is 'winograd_wide' when every platform is 'cpu' (Winograd is faster there from 64
    channels, bench/conv_throughput.py) and 'direct' otherwise; the others are returned as they
    are. ValueError for an unknown name.
    """
    if algorithm == AUTO:
        platforms = (jax.default_backend(),) if platforms is None else tuple(platforms)
        return "winograd_wide" if platforms and set(platforms) == {"cpu"} else "direct"
    if algorithm not in CONV_ALGORITHMS:
        raise ValueError(f"unknown convolution algorithm {algorithm!r}; known: "
                         f"{', '.join(CONV_ALGORITHMS + (AUTO,))}")
    return algorithm


def conv2d(x: jax.Array, kernel: jax.Array, bias: jax.Array, stride: int = 1,
           algorithm: str = "direct") -> jax.Array:
    """Plain convolution: x (B,H,W,Cin), kernel (k,k,Cin,Cout) HWIO, bias (Cout,).

    Symmetric zero padding (k - 1) // 2. Returns (B,H',W',Cout), H' = (H + 2 pad - k) // stride
    + 1. algorithm: 'direct' (XLA's convolution), 'winograd' (3×3 stride-1 and 5×5 stride-2
    kernels by `jaxrestore.ops.winograd`: ~2× faster at 128²×256 in a network on CPU, float32
    error ~3× the direct one; other kernels stay direct) or 'winograd_wide' (Winograd for ≥ 64
    channels in and out, direct below, where Winograd is slower on CPU; 'auto' on CPU, see
    `resolve_conv_algorithm`). Inputs other than float32 always take the direct convolution.
    """
    method = _method(kernel, stride, algorithm, x.dtype)
    kernel = kernel.astype(x.dtype)
    if method == "winograd3x3":
        y = conv3x3(x, kernel)
    elif method == "winograd5x5s2":
        y = conv5x5_stride2(x, kernel)
    else:
        y = _direct(x, kernel, stride)
    return y + bias.astype(x.dtype)


def prepared_conv2d(kernel: jax.Array, bias: jax.Array, stride: int = 1,
                    algorithm: str = "direct", dtype=jnp.float32
                    ) -> Callable[[jax.Array], jax.Array]:
    """`conv2d` with fixed weights, as a function of x whose Winograd kernel is computed once.

    For one convolution applied to many inputs, e.g. inside `lax.scan` (IGNN's per-neighbour
    convolutions): the kernel's Winograd transform (4× its size) is computed here, outside the
    loop, not at every step. The returned x (B,H,W,Cin) → (B,H',W',Cout) equals
    `conv2d(x, kernel, bias, stride, algorithm)` up to float32 rounding; meant for forward
    passes (its derivatives are JAX's, slower than `conv2d`'s). dtype: that of the inputs x.
    """
    method = _method(kernel, stride, algorithm, dtype)
    if method == "winograd3x3":
        u = transform_kernel(kernel)
        return lambda x: conv3x3_transformed(x, u) + bias.astype(x.dtype)
    if method == "winograd5x5s2":
        phase_kernels = stride2_phase_kernels(kernel)
        return lambda x: conv5x5_stride2_transformed(x, phase_kernels) + bias.astype(x.dtype)
    return lambda x: _direct(x, kernel.astype(x.dtype), stride) + bias.astype(x.dtype)


def _method(kernel: jax.Array, stride: int, algorithm: str, dtype) -> str:
    """How `conv2d` computes this convolution of `dtype` inputs: 'winograd3x3', 'winograd5x5s2'
    or 'direct'. Winograd's transforms amplify rounding, so it is used for float32 only."""
    if algorithm == AUTO:
        raise ValueError("convolution algorithm 'auto' must be resolved first, for the platforms "
                         "the program runs on (resolve_conv_algorithm)")
    if algorithm not in CONV_ALGORITHMS:
        raise ValueError(f"unknown convolution algorithm {algorithm!r}; known: {CONV_ALGORITHMS}")
    if jnp.dtype(dtype) != jnp.float32:
        return "direct"
    if algorithm == "winograd_wide":
        algorithm = "winograd" if min(kernel.shape[2:]) >= WIDE else "direct"
    if algorithm == "winograd" and kernel.shape[:2] == (3, 3) and stride == 1:
        return "winograd3x3"
    if algorithm == "winograd" and kernel.shape[:2] == (5, 5) and stride == 2:
        return "winograd5x5s2"
    return "direct"


def _direct(x: jax.Array, kernel: jax.Array, stride: int) -> jax.Array:
    pad = (kernel.shape[0] - 1) // 2
    return direct_conv(x, kernel, ((pad, pad), (pad, pad)), stride)
