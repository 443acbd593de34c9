"""Train state: trainable params, frozen collections, optimiser state, step and rng."""
from typing import Any

import flax.serialization
import flax.struct
import jax
import jax.numpy as jnp
import numpy as np
import optax

from jaxrestore.checkpoints import split_variables


class TrainState(flax.struct.PyTreeNode):
    """Everything a training run carries from step to step.

    step: int32 scalar, number of optimiser updates applied.
    params: the `params` collection (the only thing the optimiser sees).
    frozen: every other variable collection (e.g. IGNN's constants), never updated.
    opt_state: the optax state of `params`.
    rng: uint32 (2,) PRNG key of the run; the current models are deterministic, so the step
      does not draw from it, but it is saved and restored with the rest for stochastic ones.
    """

    step: jax.Array
    params: Any
    frozen: Any
    opt_state: Any
    rng: jax.Array


def create_train_state(module, optimizer: optax.GradientTransformation, example: dict,
                       seed: int) -> TrainState:
    """Initialises `module` on `example` (a batch dict: 'input' and extra images, any range).

    Returns host (NumPy) arrays so a driver can place them however it shards.
    """
    init_key, run_key = jax.random.split(jax.random.PRNGKey(seed))
    extras = {k: jnp.asarray(v) for k, v in example.items() if k not in ("input", "target")}
    variables = jax.jit(module.init)(init_key, jnp.asarray(example["input"]), **extras)
    params, frozen = split_variables(variables)
    state = TrainState(
        step=jnp.zeros((), jnp.int32),
        params=params,
        frozen=frozen,
        opt_state=optimizer.init(params),
        rng=run_key,
    )
    return jax.device_get(state)


def state_to_dict(state: TrainState) -> dict:
    """The checkpointed form: nested dicts with keys step, params, frozen, opt_state, rng."""
    return flax.serialization.to_state_dict(jax.device_get(state))


def state_from_dict(template: TrainState, tree: dict) -> TrainState:
    """Inverse of `state_to_dict`, shaped like `template` (host NumPy arrays)."""
    restored = flax.serialization.from_state_dict(template, tree)
    return jax.tree.map(np.asarray, restored)
