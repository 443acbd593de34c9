"""DnCNN-like baseline (Zhang et al., TIP 2017): a plain conv stack that predicts the residual.

    x ─ conv3x3 ─ ReLU ─ (depth - 2) × [conv3x3 ─ (BatchNorm) ─ ReLU] ─ conv3x3 ─ + x

The standard DnCNN-S is depth 17, 64 features, grey, with batch normalisation and bias-free
convolutions (the common PyTorch port's layout), which has 556,032 trainable parameters:
2 × 576 (first and last conv) + 15 × (36,864 conv + 128 BN scale/offset). BN running statistics
live in `batch_stats`, not `params`.

Our baseline configs drop BN (`batch_norm=False`, convs get biases instead). With BN on, the
shared trainer calls the model with `train=True` (batch statistics of the global batch, running
statistics updated: `jaxrestore.models.apply_for_training`); inference uses the running ones.
"""
import flax.linen as nn
import jax.numpy as jnp

from jaxrestore.models.base import Signature, module_kwargs, wide_dtype
from jaxrestore.models.layers import kaiming_init


class DnCNN(nn.Module):
    """Residual conv stack. x (B, H, W, channels) in [0, 1] → (B, H, W, channels).

    Attributes:
      channels: image channels (in == out). n_feats: width. depth: conv layers (≥ 2).
      batch_norm: BN after every middle conv (then convs have no bias).
      dtype: computation dtype of the convolutions ('float32', 'bfloat16' or 'float64', which
        needs JAX_ENABLE_X64=1); parameters and the residual sum (the output) are float32
        (float64 for float64).
    """
    channels: int = 1
    n_feats: int = 64
    depth: int = 17
    batch_norm: bool = False
    dtype: str = "float32"

    @nn.compact
    def __call__(self, x, train: bool = False, batch_axis: str | None = None):
        """train: BN normalises by the batch's statistics (averaged over the mapped axis
        `batch_axis`, None: this call's batch) and updates the running ones (call with
        mutable=['batch_stats']); else by the running statistics."""
        if x.ndim != 4 or x.shape[-1] != self.channels:
            raise ValueError(f"DnCNN expects (B, H, W, {self.channels}) input, got {x.shape}")
        if self.depth < 2:
            raise ValueError(f"DnCNN depth must be at least 2, got {self.depth}")
        bias = not self.batch_norm
        y = nn.relu(self._conv(self.n_feats, bias, "conv_0")(x))
        for i in range(1, self.depth - 1):
            y = self._conv(self.n_feats, bias, f"conv_{i}")(y)
            if self.batch_norm:
                y = nn.BatchNorm(use_running_average=not train, momentum=0.9, epsilon=1e-5,
                                 axis_name=batch_axis, dtype=jnp.dtype(self.dtype),
                                 param_dtype=wide_dtype(self.dtype), name=f"bn_{i}")(y)
            y = nn.relu(y)
        residual = self._conv(self.channels, bias, f"conv_{self.depth - 1}")(y)
        wide = wide_dtype(self.dtype)
        return x.astype(wide) + residual.astype(wide)

    def _conv(self, features: int, bias: bool, name: str) -> nn.Conv:
        """3×3 conv, zero padding 1, He-normal weights (the PyTorch port's kaiming init)."""
        return nn.Conv(features, (3, 3), padding=((1, 1), (1, 1)), use_bias=bias,
                       kernel_init=kaiming_init(1.0), dtype=jnp.dtype(self.dtype),
                       param_dtype=wide_dtype(self.dtype), name=name)


def from_config(model_config) -> DnCNN:
    """Builds DnCNN from `config.model` (fields channels, n_feats, depth, batch_norm)."""
    return DnCNN(**module_kwargs(DnCNN, model_config))


def signature(model_config) -> Signature:
    """Same-size restoration with `channels` in and out."""
    channels = model_config.get("channels", 1)
    return Signature(channels, channels, 1)


MODULE = DnCNN
