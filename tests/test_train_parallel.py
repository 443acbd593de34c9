"""The per-replica step under both drivers on 2 fake CPU devices equals a plain single-device
step on the same global batch, compiles once, and hands the state back replicated (what
checkpoints save) without a host copy."""
import json
import os
import pathlib
import subprocess
import sys

import pytest

TESTS = pathlib.Path(__file__).resolve().parent

SCRIPT = r"""
import json, sys
import jax, jax.numpy as jnp, numpy as np, optax, ml_collections
sys.path.insert(0, sys.argv[1])
from train_tiny_model import TinyNet
from jaxrestore.train import optim, parallel, state as state_lib, step as step_lib, losses

assert jax.device_count() == 2
config = ml_collections.ConfigDict(dict(optimizer="adam", learning_rate=1e-2, b1=0.9, b2=0.999,
    eps=1e-8, schedule="constant", grad_clip=0.05))
module = TinyNet()
optimizer = optim.make_optimizer(config)
rng = np.random.default_rng(0)
batches = [{"input": rng.random((4, 6, 6, 3), np.float32),
            "target": rng.random((4, 6, 6, 3), np.float32)} for _ in range(3)]
import functools
init = functools.partial(state_lib.init_train_state, module, optimizer,
                         jnp.asarray(batches[0]["input"][:1]), 0)
template = jax.device_get(jax.jit(init)())

# oracle: one device, the whole global batch, optax directly (no pmean, no driver)
reference = optax.chain(optax.clip_by_global_norm(0.05), optax.adam(1e-2))
params, frozen = template.params, template.frozen
opt_state = reference.init(params)
ref_losses = []
for b in batches:
    def loss_of(p):
        out = module.apply({"params": p, **frozen}, b["input"])
        return jnp.mean(jnp.abs(out - b["target"]))
    loss, grads = jax.value_and_grad(loss_of)(params)
    updates, opt_state = reference.update(grads, opt_state, params)
    params = optax.apply_updates(params, updates)
    ref_losses.append(float(loss))

out = {"ref_losses": ref_losses}
for name in ("shard_map", "pmap"):
    traces = []
    inner = step_lib.make_train_step(module, 1.0, losses.l1, optimizer)
    def counted(state, batch):
        traces.append(1)
        return inner(state, batch)
    driver = parallel.make_driver(name, counted)
    state = driver.init(init)
    run_losses = []
    for b in batches:
        state, metrics = driver.step(state, driver.put_batch(b))
        run_losses.append(float(metrics["loss"]))  # blocks (fake devices need it in tests)
    replicated = driver.to_replicated(state)
    assert all(x.sharding.is_fully_replicated and len(x.sharding.device_set) == 2
               for x in jax.tree.leaves(replicated))
    host = jax.device_get(replicated)
    diff = max(float(np.max(np.abs(a - b))) for a, b in
               zip(jax.tree.leaves(host.params), jax.tree.leaves(params)))
    frozen_same = all(np.array_equal(a, b) for a, b in
                      zip(jax.tree.leaves(host.frozen), jax.tree.leaves(frozen)))
    moved = max(float(np.max(np.abs(a - b))) for a, b in
                zip(jax.tree.leaves(host.params), jax.tree.leaves(template.params)))
    out[name] = {"losses": run_losses, "param_diff": diff, "traces": len(traces),
                 "step": int(host.step), "frozen_same": frozen_same, "moved": moved}
print(json.dumps(out))
"""


@pytest.fixture(scope="module")
def two_device_run():
    flags = os.environ.get("XLA_FLAGS", "") + " --xla_force_host_platform_device_count=2"
    env = {**os.environ, "XLA_FLAGS": flags,
           "JAX_PLATFORMS": "cpu"}
    result = subprocess.run([sys.executable, "-c", SCRIPT, str(TESTS)], env=env,
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize("driver", ["shard_map", "pmap"])
def test_driver_equals_single_device_step(two_device_run, driver):
    run = two_device_run[driver]
    assert run["param_diff"] < 1e-5
    assert run["moved"] > 1e-3  # the comparison is not between untouched parameters
    assert run["losses"] == pytest.approx(two_device_run["ref_losses"], abs=1e-5)
    assert run["step"] == 3
    assert run["frozen_same"]


@pytest.mark.parametrize("driver", ["shard_map", "pmap"])
def test_driver_compiles_once(two_device_run, driver):
    assert two_device_run[driver]["traces"] == 1
