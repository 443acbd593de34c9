"""The per-replica training step, shared by every data-parallel driver (see parallel.py)."""
from collections.abc import Callable

import jax
import optax
from jax import lax

from jaxrestore.checkpoints import merge_variables
from jaxrestore.models import apply_for_training

AXIS = "data"


def make_train_step(module, pixel_range: float, loss_fn: Callable,
                    optimizer: optax.GradientTransformation) -> Callable:
    """Returns `train_step(state, batch) -> (state, metrics)` for ONE replica.

    batch: this replica's share of the global batch, 'input' (b, h, w, C) and 'target'
    (b, H, W, C), both in [0, 1].
    It must run inside a mapped axis named 'data' (jax.shard_map or jax.pmap): loss and
    gradients are averaged over replicas with `lax.pmean`, so every replica applies the same
    update. The params are cast to 'varying' before differentiating: under shard_map with
    check_vma=True a replicated (unvarying) input would otherwise get gradients already summed
    over devices, under pmap (and check_vma=False) it would not; with the cast every setting
    sees per-replica gradients and the pmean is the mean over the global batch.
    A model with batch statistics (BN) runs in training mode: it normalises by the statistics
    of the global batch (averaged over 'data') and the step stores its new running statistics
    in `state.frozen`.
    metrics (device scalars): 'loss' (global batch mean) and 'grad_norm' (of the averaged
    gradient).
    """

    def train_step(state, batch):
        def loss_of(params):
            variables = merge_variables(params, state.frozen)
            prediction, collections = apply_for_training(module, variables, batch["input"],
                                                         pixel_range, batch_axis=AXIS)
            return loss_fn(prediction, batch["target"]), collections

        params = lax.pcast(state.params, AXIS, to="varying")
        (loss, collections), grads = jax.value_and_grad(loss_of, has_aux=True)(params)
        grads = lax.pmean(grads, AXIS)
        updates, opt_state = optimizer.update(grads, state.opt_state, state.params)
        new_state = state.replace(
            step=state.step + 1,
            params=optax.apply_updates(state.params, updates),
            frozen={**state.frozen, **collections},
            opt_state=opt_state,
        )
        return new_state, {"loss": lax.pmean(loss, AXIS), "grad_norm": optax.tree.norm(grads)}

    return train_step
