"""A tiny Flax restoration model for the training tests (not a library model).

`TinyNet`: upsample by `scale` (nearest) then x + conv3x3(x - shift), with `shift` a frozen
variable in the 'constants' collection (like IGNN's mean shift), so the tests see a
non-trainable collection carried through training. `register()` adds it to the model registry
as 'tiny' (tests and their subprocesses only).
"""
import sys

import flax.linen as nn
import jax.numpy as jnp

import jaxrestore.models


class TinyNet(nn.Module):
    channels: int = 3
    scale: int = 1

    @nn.compact
    def __call__(self, x):
        """x: (B, h, w, C) → (B, h*scale, w*scale, C)."""
        x = jnp.repeat(jnp.repeat(x, self.scale, axis=1), self.scale, axis=2)
        shift = self.variable("constants", "shift", lambda: jnp.full((self.channels,), 0.5))
        return x + nn.Conv(self.channels, (3, 3), name="conv")(x - shift.value)


def from_config(model_config) -> TinyNet:
    return TinyNet(**jaxrestore.models.module_kwargs(TinyNet, model_config))


def signature(model_config) -> jaxrestore.models.Signature:
    return jaxrestore.models.Signature(model_config.channels, model_config.channels,
                                       model_config.scale)


MODULE = TinyNet


def register():
    jaxrestore.models.MODELS["tiny"] = sys.modules[__name__]
