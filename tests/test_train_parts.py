"""Losses, learning-rate schedules and the optimiser against hand computations."""
import math

import jax.numpy as jnp
import ml_collections
import numpy as np
import pytest

from jaxrestore.configs.common import base_config
from jaxrestore.train import losses, optim


def test_losses_by_hand():
    p = jnp.array([[0.0, 0.5], [1.0, 0.25]]).reshape(1, 2, 2, 1)
    t = jnp.array([[0.5, 0.5], [0.0, 0.0]]).reshape(1, 2, 2, 1)
    # differences 0.5, 0, 1, 0.25
    assert float(losses.l1(p, t)) == pytest.approx(1.75 / 4)
    assert float(losses.mse(p, t)) == pytest.approx((0.25 + 0 + 1 + 0.0625) / 4)
    eps = 1e-3
    expected = np.mean([math.sqrt(d * d + eps * eps) for d in (0.5, 0.0, 1.0, 0.25)])
    assert float(losses.get_loss("charbonnier")(p, t)) == pytest.approx(expected, rel=1e-6)
    with pytest.raises(ValueError, match="unknown train.loss"):
        losses.get_loss("l3")


def test_ignn_step_schedule_is_multisteplr():
    train = base_config().train  # IGNN's numbers
    schedule = optim.learning_rate_schedule(train)
    for i in (0, 149_999, 150_000, 309_999, 310_000, 470_000, 629_999, 630_000, 799_999):
        halvings = sum(i >= m for m in (150_000, 310_000, 470_000, 630_000))
        assert float(schedule(i)) == pytest.approx(1e-4 * 0.5**halvings, rel=1e-6), i


def test_cosine_with_warm_restarts():
    train = base_config().train
    train.schedule, train.restart_period, train.min_learning_rate = "cosine_restarts", 100, 1e-6
    schedule = optim.learning_rate_schedule(train)
    for i in (0, 25, 50, 99, 100, 150, 275):
        t = (i % 100) / 100
        expected = 1e-6 + 0.5 * (1e-4 - 1e-6) * (1 + math.cos(math.pi * t))
        assert float(schedule(i)) == pytest.approx(expected, rel=1e-5), i


def _numpy_adam(grads, lr, b1, b2, eps, clip):
    """Adam (Kingma & Ba, bias-corrected) on a list of gradients, with global-norm clipping."""
    w, m, v, out = 0.0, 0.0, 0.0, []
    for t, g in enumerate(grads, start=1):
        g = np.asarray(g, np.float64)
        norm = np.sqrt(np.sum(g * g))
        if clip and norm > clip:
            g = g * clip / norm
        m = b1 * m + (1 - b1) * g
        v = b2 * v + (1 - b2) * g * g
        w = w - lr * (m / (1 - b1**t)) / (np.sqrt(v / (1 - b2**t)) + eps)
        out.append(w)
    return out


@pytest.mark.parametrize("clip", [0.0, 1.0])
def test_adam_uses_config_betas_and_clipping(clip):
    train = ml_collections.ConfigDict(dict(
        optimizer="adam", learning_rate=0.1, b1=0.5, b2=0.75, eps=1e-8,
        schedule="constant", grad_clip=clip))
    optimizer = optim.make_optimizer(train)
    grads = [np.array([3.0, -4.0]), np.array([0.1, 0.2]), np.array([-1.0, 0.5])]
    params = jnp.zeros(2)
    state = optimizer.init(params)
    for g, expected in zip(grads, _numpy_adam(grads, 0.1, 0.5, 0.75, 1e-8, clip)):
        updates, state = optimizer.update(jnp.asarray(g, jnp.float32), state, params)
        params = params + updates
        np.testing.assert_allclose(params, expected, rtol=1e-5, atol=1e-7)
