"""Train state: trainable params, frozen collections, optimiser state, step and rng."""
from typing import Any

import flax.serialization
import flax.struct
import jax
import jax.numpy as jnp
import optax

from jaxrestore.checkpoints import split_variables


class TrainState(flax.struct.PyTreeNode):
    """Everything a training run carries from step to step.

    step: int32 scalar, number of optimiser updates applied.
    params: the `params` collection (the only thing the optimiser sees).
    frozen: every other variable collection, never seen by the optimiser: constants (IGNN's)
      are never updated, running batch statistics (`batch_stats`, BN) are updated by the step.
    opt_state: the optax state of `params`.
    rng: uint32 (2,) PRNG key of the run; the current models are deterministic, so the step
      does not draw from it, but it is saved and restored with the rest for stochastic ones.
    """

    step: jax.Array
    params: Any
    frozen: Any
    opt_state: Any
    rng: jax.Array


def init_train_state(module, optimizer: optax.GradientTransformation, example_input,
                     seed: int) -> TrainState:
    """The state before the first step: `module` initialised on `example_input` (B, h, w, C).

    Pure: jit it (with output shardings) to create the state on devices, or `jax.eval_shape` it
    for the shapes a checkpoint restores into.
    """
    init_key, run_key = jax.random.split(jax.random.PRNGKey(seed))
    params, frozen = split_variables(module.init(init_key, example_input))
    return TrainState(step=jnp.zeros((), jnp.int32), params=params, frozen=frozen,
                      opt_state=optimizer.init(params), rng=run_key)


def state_to_dict(state: TrainState) -> dict:
    """The checkpointed form: nested dicts with keys step, params, frozen, opt_state, rng (the
    leaves as they are: device arrays, NumPy arrays or ShapeDtypeStructs)."""
    return flax.serialization.to_state_dict(state)


def state_from_dict(template: TrainState, tree: dict) -> TrainState:
    """Inverse of `state_to_dict`, shaped like `template`."""
    return flax.serialization.from_state_dict(template, tree)
