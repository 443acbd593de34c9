"""Data-parallel drivers of the per-replica step: jit + shard_map (default) and pmap.

Both split the global batch over every device of every process along the axis 'data', keep the
train state replicated on the devices, and donate it to the step. Each process hands in its own
host batch (its share of the global batch). Nothing is copied to the host: steps return device
metrics, and the state is exchanged with checkpoints and validation as device arrays.

The common currency is the *replicated* state: every leaf a global `jax.Array` with
`NamedSharding(mesh, P())` (what `init`, `abstract`, orbax restores and `to_replicated` give).
A driver may keep its own layout between steps (pmap: a leading axis of local devices).
"""
from collections.abc import Callable

import jax
import numpy as np
from jax.sharding import NamedSharding
from jax.sharding import PartitionSpec as P

from jaxrestore.errors import ConfigError
from jaxrestore.train.step import AXIS


def _check_divisible(host_batch: dict, devices: int):
    size = len(next(iter(host_batch.values())))
    if size % devices:
        raise ConfigError(f"a host batch of {size} does not split over {devices} local devices; "
                          "make data.batch_size a multiple of the device count")


class _Driver:
    """What both drivers share: the mesh, replicated init, abstract shapes, local copies."""

    def __init__(self):
        self.mesh = jax.make_mesh((jax.device_count(),), (AXIS,))
        self.replicated = NamedSharding(self.mesh, P())
        self.split = NamedSharding(self.mesh, P(AXIS))

    def abstract(self, init_fn: Callable):
        """ShapeDtypeStructs (replicated sharding) of `init_fn()`'s state, for restoring."""
        shapes = jax.eval_shape(init_fn)
        return jax.tree.map(lambda s: jax.ShapeDtypeStruct(s.shape, s.dtype,
                                                           sharding=self.replicated), shapes)

    def init(self, init_fn: Callable):
        """`init_fn()` computed straight onto the devices, in this driver's layout."""
        return self.from_replicated(jax.jit(init_fn, out_shardings=self.replicated)())

    def local_copy(self, state):
        """The state on this process's first device (device arrays, no host copy), e.g. for
        validation."""
        return jax.tree.map(lambda x: x.addressable_data(0), self.to_replicated(state))


class ShardMapDriver(_Driver):
    """`jax.jit(jax.shard_map(step))` over a 1-D mesh ('data',) of all devices.

    check_vma=False: models whose `lax.scan` carries start unvarying and become varying (IGNN's
    per-neighbour GCN) are rejected by the varying-axes check; the step is written to be correct
    with the check on or off (see step.py), as proven against a single-device step in tests.
    """

    def __init__(self, train_step: Callable):
        super().__init__()
        mapped = jax.shard_map(train_step, mesh=self.mesh, in_specs=(P(), P(AXIS)),
                               out_specs=(P(), P()), check_vma=False)
        self._step = jax.jit(mapped, donate_argnums=0)

    def from_replicated(self, state):
        return state

    def to_replicated(self, state):
        return state

    def put_batch(self, host_batch: dict):
        """This process's batch → one global array per key, sharded on the leading axis
        (asynchronous copies)."""
        _check_divisible(host_batch, jax.local_device_count())
        return {k: jax.make_array_from_process_local_data(self.split, np.asarray(v))
                for k, v in host_batch.items()}

    def step(self, state, batch):
        """(state, batch) → (state, metrics as device scalars); the input state is donated."""
        return self._step(state, batch)


class PmapDriver(_Driver):
    """`jax.pmap(step, axis_name='data')` over every device (state stacked per local device)."""

    def __init__(self, train_step: Callable):
        super().__init__()
        self.local = jax.local_device_count()
        self._step = jax.pmap(train_step, axis_name=AXIS, donate_argnums=0)
        self._stack = jax.pmap(lambda tree: tree, axis_name=AXIS)

    def from_replicated(self, state):
        """Replicated state → one copy per local device (leading axis), laid out as pmap's
        outputs (so the step sees the same input kind at every call and compiles once)."""
        return self._stack(jax.tree.map(
            lambda x: np.stack([np.asarray(x.addressable_data(0))] * self.local), state))

    def to_replicated(self, state):
        """pmap layout → replicated global arrays built from the per-device copies."""
        def replicate(x):
            shape = x.shape[1:]
            shards = [shard.data.reshape(shape) for shard in x.addressable_shards]
            return jax.make_array_from_single_device_arrays(shape, self.replicated, shards)

        return jax.tree.map(replicate, state)

    def put_batch(self, host_batch: dict):
        """This process's batch → (local devices, share, ...)."""
        _check_divisible(host_batch, self.local)
        return {k: np.asarray(v).reshape(self.local, -1, *np.shape(v)[1:])
                for k, v in host_batch.items()}

    def step(self, state, batch):
        """(state, batch) → (state, metrics as device scalars); the input state is donated."""
        state, metrics = self._step(state, batch)
        return state, {k: v[0] for k, v in metrics.items()}


DRIVERS = {"shard_map": ShardMapDriver, "pmap": PmapDriver}


def make_driver(name: str, train_step: Callable):
    """The driver named by `config.train.parallel` ('shard_map' | 'pmap')."""
    if name not in DRIVERS:
        raise ConfigError(f"unknown train.parallel {name!r}; known: {', '.join(DRIVERS)}")
    return DRIVERS[name](train_step)
