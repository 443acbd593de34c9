"""DnCNN with batch normalisation trains: the shared step (both drivers, 2 fake CPU devices)
normalises by the statistics of the whole global batch and moves the running statistics exactly
as Flax's BatchNorm does on one device with the whole batch (the oracle, with optax directly).
"""
import json
import os
import subprocess
import sys

import pytest

SCRIPT = r"""
import functools, json
import jax, jax.numpy as jnp, numpy as np, optax, ml_collections
from jaxrestore.models.dncnn import DnCNN
from jaxrestore.train import losses, optim, parallel, state as state_lib, step as step_lib

assert jax.device_count() == 2
module = DnCNN(channels=1, n_feats=4, depth=3, batch_norm=True)
config = ml_collections.ConfigDict(dict(optimizer="adam", learning_rate=1e-2, b1=0.9, b2=0.999,
    eps=1e-8, schedule="constant", grad_clip=0.0))
optimizer = optim.make_optimizer(config)
rng = np.random.default_rng(0)
# the two halves differ in brightness: per-device statistics would differ from the global ones
x = rng.random((4, 6, 6, 1), np.float32) * np.array([1, 1, 3, 3], np.float32)[:, None, None, None]
batch = {"input": x, "target": rng.random((4, 6, 6, 1), np.float32)}
init = functools.partial(state_lib.init_train_state, module, optimizer, jnp.asarray(x[:1]), 0)
template = jax.device_get(jax.jit(init)())

# oracle: one device, the whole batch, Flax's BatchNorm in training mode, optax directly
def loss_of(p):
    out, new = module.apply({"params": p, **template.frozen}, x, train=True,
                            mutable=["batch_stats"])
    return jnp.mean(jnp.abs(out - batch["target"])), new
(_, new_stats), grads = jax.value_and_grad(loss_of, has_aux=True)(template.params)
reference = optax.adam(1e-2)
updates, _ = reference.update(grads, reference.init(template.params), template.params)
ref_params = optax.apply_updates(template.params, updates)

def max_diff(a, b):
    return max(float(np.max(np.abs(u - v))) for u, v in zip(jax.tree.leaves(a), jax.tree.leaves(b)))

out = {"stats_moved": max_diff(new_stats["batch_stats"], template.frozen["batch_stats"])}
for name in ("shard_map", "pmap"):
    driver = parallel.make_driver(name, step_lib.make_train_step(module, 1.0, losses.l1, optimizer))
    state, _ = driver.step(driver.init(init), driver.put_batch(batch))
    host = jax.device_get(driver.to_replicated(state))
    out[name] = {"params": max_diff(host.params, ref_params),
                 "stats": max_diff(host.frozen["batch_stats"], new_stats["batch_stats"])}
print(json.dumps(out))
"""


@pytest.fixture(scope="module")
def bn_run():
    flags = os.environ.get("XLA_FLAGS", "") + " --xla_force_host_platform_device_count=2"
    env = {**os.environ, "XLA_FLAGS": flags, "JAX_PLATFORMS": "cpu"}
    done = subprocess.run([sys.executable, "-c", SCRIPT], env=env, capture_output=True,
                          text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize("driver", ["shard_map", "pmap"])
def test_batch_norm_step_matches_flax_on_the_global_batch(bn_run, driver):
    assert bn_run["stats_moved"] > 1e-3          # the oracle's running statistics do move
    assert bn_run[driver]["stats"] < 1e-6        # the step stores the same new statistics
    assert bn_run[driver]["params"] < 1e-6       # and applies the same update
