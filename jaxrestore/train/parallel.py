"""Data-parallel drivers of one per-replica step: jit + shard_map (default) and pmap.

Both split the global batch over every device of every process along the axis 'data', keep the
train state replicated, and donate it to the step. Each process hands in its own host batch
(its share of the global batch); states go in and come out as host NumPy trees.
"""
from collections.abc import Callable

import jax
import numpy as np
from jax.sharding import NamedSharding
from jax.sharding import PartitionSpec as P

from jaxrestore.train.step import AXIS


def _check_divisible(host_batch: dict, devices: int):
    size = len(next(iter(host_batch.values())))
    if size % devices:
        raise ValueError(f"host batch of {size} does not split over {devices} local devices; "
                         f"make data.batch_size a multiple of the device count")


class ShardMapDriver:
    """`jax.jit(jax.shard_map(step))` over a 1-D mesh ('data',) of all devices.

    check_vma=False: models whose `lax.scan` carries start unvarying and become varying (IGNN's
    per-neighbour GCN) are rejected by the varying-axes check; the step is written to be correct
    with the check on or off (see step.py), as proven against a single-device step in tests.
    """

    def __init__(self, train_step: Callable):
        self.mesh = jax.make_mesh((jax.device_count(),), (AXIS,))
        self.replicated = NamedSharding(self.mesh, P())
        self.split = NamedSharding(self.mesh, P(AXIS))
        mapped = jax.shard_map(train_step, mesh=self.mesh, in_specs=(P(), P(AXIS)),
                               out_specs=(P(), P()), check_vma=False)
        self._step = jax.jit(mapped, donate_argnums=0)

    def put_state(self, state):
        """Host state → state replicated on every device."""
        return jax.device_put(state, self.replicated)

    def get_state(self, state):
        """Device state → host NumPy state."""
        return jax.tree.map(lambda x: np.asarray(x.addressable_data(0)), state)

    def put_batch(self, host_batch: dict):
        """This process's batch → one global array per key, sharded on the leading axis."""
        _check_divisible(host_batch, jax.local_device_count())
        return {k: jax.make_array_from_process_local_data(self.split, np.asarray(v))
                for k, v in host_batch.items()}

    def step(self, state, batch):
        """(state, batch) → (state, metrics as host floats); the input state is donated."""
        state, metrics = self._step(state, batch)
        return state, {k: float(v.addressable_data(0)) for k, v in metrics.items()}


class PmapDriver:
    """`jax.pmap(step, axis_name='data')` over every device (state stacked per local device)."""

    def __init__(self, train_step: Callable):
        self.local = jax.local_device_count()
        self._step = jax.pmap(train_step, axis_name=AXIS, donate_argnums=0)

    def put_state(self, state):
        """Host state → one copy per local device (leading axis), laid out as pmap's outputs
        (so the step sees the same input kind at every call and compiles once)."""
        stacked = jax.tree.map(lambda x: np.stack([np.asarray(x)] * self.local), state)
        return jax.pmap(lambda tree: tree, axis_name=AXIS)(stacked)

    def get_state(self, state):
        """Device state → host NumPy state (the first local copy)."""
        return jax.tree.map(lambda x: np.asarray(x.addressable_data(0))[0], state)

    def put_batch(self, host_batch: dict):
        """This process's batch → (local devices, share, ...)."""
        _check_divisible(host_batch, self.local)
        return {k: np.asarray(v).reshape(self.local, -1, *np.shape(v)[1:])
                for k, v in host_batch.items()}

    def step(self, state, batch):
        """(state, batch) → (state, metrics as host floats); the input state is donated."""
        state, metrics = self._step(state, batch)
        return state, {k: float(v.addressable_data(0)[0]) for k, v in metrics.items()}


DRIVERS = {"shard_map": ShardMapDriver, "pmap": PmapDriver}


def make_driver(name: str, train_step: Callable):
    """The driver named by `config.train.parallel` ('shard_map' | 'pmap')."""
    if name not in DRIVERS:
        raise ValueError(f"unknown parallel driver {name!r}; known: {', '.join(DRIVERS)}")
    return DRIVERS[name](train_step)
