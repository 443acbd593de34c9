"""Building blocks shared by the restoration models (NHWC, Flax linen).

Numerics follow the EDSR-family PyTorch code the originals are written in: convolutions with
symmetric zero padding (kernel - 1) // 2, residual blocks `x + res_scale * conv(relu(conv(x)))`,
a frozen 1×1 "mean shift", and sub-pixel upsamplers in PyTorch's pixel-shuffle channel order.

Trainable weights live in `params`; frozen ones (`FrozenConv`, `mean_shift`) in the collection
named by their `collection` attribute (default `constants`), which optimisers never see.
Weights are float32, or float64 where the layer's input is float64 (`wide_dtype`).
"""
from collections.abc import Callable, Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp

from jaxrestore.models.base import wide_dtype
from jaxrestore.ops.conv import conv2d
from jaxrestore.ops.pixel_shuffle import pixel_shuffle

FROZEN = "constants"


def kaiming_init(scale: float = 1.0) -> Callable:
    """PyTorch `kaiming_normal_(a=0, mode='fan_in')` times `scale` (untruncated normal).

    With scale 0.1 this is the original IGNN/EDSR `initialize_weights(net, 0.1)`.
    """
    return nn.initializers.variance_scaling(2.0 * scale**2, "fan_in", "normal")


def conv(features: int, kernel_size: int = 3, stride: int = 1, *, name: str | None = None,
         init_scale: float = 0.1, algorithm: str = "direct") -> nn.Module:
    """A trainable 2-D convolution with PyTorch's symmetric padding (kernel_size - 1) // 2.

    Output size for input n: (n + 2 * pad - kernel_size) // stride + 1. Zero bias init.
    Variables as `nn.Conv`: `kernel` (k,k,Cin,Cout), `bias` (Cout,). 1×1 stride-1 convolutions
    are `PointwiseConv` (faster gradients on CPU); `algorithm` is that of
    `jaxrestore.ops.conv.conv2d`.
    """
    if kernel_size == 1 and stride == 1:
        return PointwiseConv(features, kernel_init=kaiming_init(init_scale), name=name)
    return Conv(features, kernel_size, stride, init_scale, algorithm, name=name)


class PointwiseConv(nn.Module):
    """A 1×1 convolution computed as a matrix product over channels.

    Same variables as `nn.Conv` with a 1×1 kernel: `kernel` (1,1,Cin,Cout), `bias` (Cout,).
    XLA on CPU computes the kernel gradient of a matrix product about twice as fast as that of
    the equivalent convolution (IGNN's weight nets run on every neighbour's edge features), and
    that of a 2-D product ~1.5× faster than of the same product over (..., Cin) (no transposed
    copies): x: (..., Cin) is flattened to (N, Cin) → (..., Cout) (e.g. NHWC).
    """
    features: int
    kernel_init: Callable = kaiming_init(0.1)

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        dtype = wide_dtype(x.dtype)
        kernel = self.param("kernel", self.kernel_init, (1, 1, x.shape[-1], self.features), dtype)
        bias = self.param("bias", nn.initializers.zeros, (self.features,), dtype)
        y = x.reshape(-1, x.shape[-1]) @ kernel[0, 0].astype(x.dtype) + bias.astype(x.dtype)
        return y.reshape(x.shape[:-1] + (self.features,))


def conv_variables(module: nn.Module, kernel_size: int, in_features: int, features: int,
                   init_scale: float, dtype) -> tuple[jax.Array, jax.Array]:
    """Declares `kernel` (k,k,Cin,Cout), initialised as `conv`, and a zero `bias` (Cout,), both
    of `dtype`."""
    kernel = module.param("kernel", kaiming_init(init_scale),
                          (kernel_size, kernel_size, in_features, features), dtype)
    bias = module.param("bias", nn.initializers.zeros, (features,), dtype)
    return kernel, bias


class Conv(nn.Module):
    """A k×k convolution (see `conv`) computed by `conv2d` with the given algorithm."""
    features: int
    kernel_size: int = 3
    stride: int = 1
    init_scale: float = 0.1
    algorithm: str = "direct"

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        kernel, bias = conv_variables(self, self.kernel_size, x.shape[-1], self.features,
                                      self.init_scale, wide_dtype(x.dtype))
        return conv2d(x, kernel, bias, self.stride, self.algorithm)


class ConvWeights(nn.Module):
    """Declares a trainable conv's kernel (k,k,Cin,Cout) and bias (Cout,), initialised as `conv`.

    Returns (kernel, bias) for `conv2d`, for convolutions applied inside JAX loops
    (`lax.scan`/`lax.map`) where Flax submodules cannot be called. dtype: that of the inputs
    the convolution will see (the weights are `wide_dtype(dtype)`).
    """
    features: int
    kernel_size: int
    in_features: int
    init_scale: float = 0.1
    dtype: str = "float32"

    @nn.compact
    def __call__(self):
        return conv_variables(self, self.kernel_size, self.in_features, self.features,
                              self.init_scale, wide_dtype(self.dtype))


class FrozenConv(nn.Module):
    """A convolution whose kernel and bias live in a non-trainable collection.

    Attributes:
      features, kernel_size: output channels and square kernel size.
      kernel_init, bias_init: `init(rng, shape)` used only when the variables are created.
      collection: variable collection holding `kernel` (k,k,Cin,Cout) and `bias` (Cout,).
    """
    features: int
    kernel_size: int = 3
    kernel_init: Callable = kaiming_init(0.1)
    bias_init: Callable = nn.initializers.zeros
    collection: str = FROZEN

    @nn.compact
    def __call__(self, x):
        shape = (self.kernel_size, self.kernel_size, x.shape[-1], self.features)
        dtype = wide_dtype(x.dtype)
        kernel = self.variable(self.collection, "kernel", lambda: self.kernel_init(
            self.make_rng("params"), shape).astype(dtype))
        bias = self.variable(self.collection, "bias", lambda: self.bias_init(
            self.make_rng("params"), (self.features,)).astype(dtype))
        return conv2d(x, jax.lax.stop_gradient(kernel.value), jax.lax.stop_gradient(bias.value))


def mean_shift(mean: Sequence[float], std: Sequence[float] = (1.0, 1.0, 1.0),
               value_range: float = 255.0, sign: float = -1.0, *, name: str | None = None,
               collection: str = FROZEN) -> FrozenConv:
    """The original's frozen `MeanShift`: x / std + sign * value_range * mean / std per channel.

    A 1×1 `FrozenConv` (kernel diag(1/std), bias as above), stored like the original so converted
    checkpoints carry and count it. Applied to (B,H,W,C) → (B,H,W,C).
    """
    std = jnp.asarray(std, jnp.float32)
    mean = jnp.asarray(mean, jnp.float32)

    def kernel_init(_, shape):
        return (jnp.eye(shape[-1], dtype=jnp.float32) / std)[None, None]

    def bias_init(_, shape):
        return sign * value_range * mean / std

    return FrozenConv(len(mean), 1, kernel_init, bias_init, collection, name=name)


class ResBlock(nn.Module):
    """EDSR residual block: x + res_scale * conv(relu(conv(x))). (B,H,W,C) → (B,H,W,C)."""
    features: int
    kernel_size: int = 3
    res_scale: float = 1.0
    init_scale: float = 0.1
    algorithm: str = "direct"

    @nn.compact
    def __call__(self, x):
        res = conv(self.features, self.kernel_size, name="conv0", init_scale=self.init_scale,
                   algorithm=self.algorithm)(x)
        res = nn.relu(res)
        res = conv(self.features, self.kernel_size, name="conv1", init_scale=self.init_scale,
                   algorithm=self.algorithm)(res)
        return x + res * self.res_scale


class Upsampler(nn.Module):
    """Sub-pixel upsampler: log2(scale) × (conv to 4C, shuffle 2), or conv to 9C, shuffle 3.

    PyTorch pixel-shuffle channel order. (B,h,w,C) → (B,h*scale,w*scale,C).
    """
    features: int
    scale: int
    kernel_size: int = 3
    init_scale: float = 0.1
    algorithm: str = "direct"

    @nn.compact
    def __call__(self, x):
        if self.scale == 3:
            factors = [3]
        elif self.scale >= 1 and self.scale & (self.scale - 1) == 0:
            factors = [2] * (self.scale.bit_length() - 1)
        else:
            raise ValueError(f"upsampling scale must be 3 or a power of 2, got {self.scale}")
        for i, r in enumerate(factors):
            x = conv(r * r * self.features, self.kernel_size, name=f"conv{i}",
                     init_scale=self.init_scale, algorithm=self.algorithm)(x)
            x = pixel_shuffle(x, r)
        return x
