"""Warm-up + cosine restarts (the IGNN author's schedule, sczhou/IGNN issue 17) against values
computed by hand: lr 1e-3, floor 1e-5, 4 warm-up steps, restart period 8."""
import pytest

from jaxrestore.configs.common import base_config
from jaxrestore.errors import ConfigError
from jaxrestore.train import optim

# step: learning rate. Warm-up lr·(step+1)/4; then cosine 1e-5 + 0.5·(1e-3 − 1e-5)·(1 + cos(π·t/8))
# with t = (step − 4) mod 8: t=2 → cos(π/4) = 0.70710678..., t=4 → 0, t=0 → restart at 1e-3.
HAND = {0: 2.5e-4, 1: 5e-4, 2: 7.5e-4, 3: 1e-3, 4: 1e-3, 6: 8.550178566873411e-4,
        8: 5.05e-4, 11: 1e-5 + 0.495e-3 * (1 - 0.9238795325112867), 12: 1e-3, 16: 5.05e-4}


def _train(warmup):
    train = base_config().train
    train.learning_rate, train.min_learning_rate = 1e-3, 1e-5
    train.schedule, train.restart_period, train.warmup_steps = "cosine_restarts", 8, warmup
    return train


def test_warmup_then_cosine_restarts_hand_values():
    schedule = optim.learning_rate_schedule(_train(4))
    for step, expected in HAND.items():
        assert float(schedule(step)) == pytest.approx(expected, rel=1e-6), step


def test_no_warmup_is_the_plain_schedule_and_negative_is_refused():
    assert float(optim.learning_rate_schedule(_train(0))(0)) == pytest.approx(1e-3)
    with pytest.raises(ConfigError, match="warmup_steps"):
        optim.learning_rate_schedule(_train(-1))
