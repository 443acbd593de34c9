"""Pixel losses: (prediction, target) → scalar mean over every element.

Both arrays are (B, H, W, C) in the same range (training uses [0, 1]).
"""
from collections.abc import Callable

import jax.numpy as jnp

from jaxrestore.errors import ConfigError

CHARBONNIER_EPS = 1e-3  # as BasicSR's CharbonnierLoss


def l1(prediction, target):
    """Mean absolute error (IGNN's and EDSR's training loss)."""
    return jnp.mean(jnp.abs(prediction - target))


def mse(prediction, target):
    """Mean squared error."""
    return jnp.mean(jnp.square(prediction - target))


def charbonnier(prediction, target, eps: float = CHARBONNIER_EPS):
    """Mean of sqrt((p - t)² + eps²): a smooth L1."""
    return jnp.mean(jnp.sqrt(jnp.square(prediction - target) + eps**2))


LOSSES = {"l1": l1, "mse": mse, "charbonnier": charbonnier}


def get_loss(name: str) -> Callable:
    """The loss function named `name` ('l1' | 'mse' | 'charbonnier')."""
    if name not in LOSSES:
        raise ConfigError(f"unknown train.loss {name!r}; known: {', '.join(LOSSES)}")
    return LOSSES[name]
