"""Optimiser and learning-rate schedule from `config.train`: the one place both are built.

IGNN's original recipe (sczhou/IGNN config.py, core/build.py): Adam(lr 1e-4, betas (0.9, 0.999)),
no weight decay, lr halved by MultiStepLR at epochs 16/32/48/64 of 10,000 iterations stepped at
the start of each epoch (so the halvings take effect at iterations 150k, 310k, 470k, 630k), 800k
iterations in all. `jaxrestore.configs.common.base_config` holds these numbers.

The paper's numbers, its author says (sczhou/IGNN issue 17), came from a warm-up and cosine
restarts instead: `train.warmup_steps` > 0 with `train.schedule = 'cosine_restarts'`.
"""
import jax.numpy as jnp
import optax

from jaxrestore.errors import ConfigError

SCHEDULES = ("step", "cosine_restarts", "constant")
OPTIMIZERS = ("adam",)


def learning_rate_schedule(train_config) -> optax.Schedule:
    """step count → learning rate: `train_config.warmup_steps` (w, default 0) steps of linear
    warm-up, lr·(step + 1)/w, then `train_config.schedule` counted from step w:

    'step': lr × gamma^(number of milestones ≤ step) (PyTorch MultiStepLR per iteration).
    'cosine_restarts': cosine from lr to min_learning_rate over each `restart_period` steps,
    then back to lr (SGDR / CosineAnnealingWarmRestarts with T_mult = 1).
    'constant': lr.
    """
    warmup = int(train_config.get("warmup_steps", 0))
    if warmup < 0:
        raise ConfigError(f"train.warmup_steps must be >= 0, got {warmup}")
    schedule = _schedule(train_config)
    if not warmup:
        return schedule
    lr = train_config.learning_rate
    return optax.join_schedules([lambda count: lr * (count + 1) / warmup, schedule], [warmup])


def _schedule(train_config) -> optax.Schedule:
    """`train_config.schedule` from step 0 (see `learning_rate_schedule`)."""
    lr = train_config.learning_rate
    name = train_config.schedule
    if name == "constant":
        return optax.constant_schedule(lr)
    if name == "step":
        return optax.piecewise_constant_schedule(
            lr, {int(m): train_config.gamma for m in train_config.milestones}
        )
    if name == "cosine_restarts":
        period = int(train_config.restart_period)
        low = train_config.min_learning_rate

        def schedule(count):
            phase = jnp.mod(count, period) / period
            return low + 0.5 * (lr - low) * (1.0 + jnp.cos(jnp.pi * phase))

        return schedule
    raise ConfigError(f"unknown train.schedule {name!r}; known: {', '.join(SCHEDULES)}")


def make_optimizer(train_config, schedule: optax.Schedule | None = None
                   ) -> optax.GradientTransformation:
    """Adam on `schedule` (default: `learning_rate_schedule(train_config)`), after optional
    global-norm clipping (`grad_clip` > 0)."""
    if train_config.optimizer not in OPTIMIZERS:
        raise ConfigError(f"unknown train.optimizer {train_config.optimizer!r}; known: "
                          f"{', '.join(OPTIMIZERS)}")
    adam = optax.adam(
        learning_rate_schedule(train_config) if schedule is None else schedule,
        b1=train_config.b1,
        b2=train_config.b2,
        eps=train_config.eps,
    )
    if train_config.grad_clip > 0:
        return optax.chain(optax.clip_by_global_norm(train_config.grad_clip), adam)
    return adam
