"""64-bit JAX (JAX_ENABLE_X64=1): every model trains and infers, and `model.dtype=float64`
computes in float64 throughout (researchers check gradients in float64; the IGNN training-step
parity compares float64 to float64).

Oracle: the dtypes JAX itself reports; one subprocess (x64 is process-wide) runs one IGNN-tiny
training step with the windowed kNN (window smaller than the son grid), the chunked kNN loop,
and forwards of MAGN-tiny and DnCNN-tiny, all small.
"""
import json
import os
import subprocess
import sys

import pytest

from jaxrestore import configs
from jaxrestore.errors import ConfigError
from jaxrestore.models import build_model

SCRIPT = r"""
import json
import jax, jax.numpy as jnp, numpy as np
from jaxrestore import configs
from jaxrestore.models import build_model
from jaxrestore.ops.knn import windowed_knn
from jaxrestore.train import losses, optim, parallel, state as state_lib, step as step_lib

assert jax.config.jax_enable_x64
rng = np.random.default_rng(0)
out = {}


def report(leaves):
    return {"dtypes": sorted({str(x.dtype) for x in leaves}),
            "finite": bool(all(np.isfinite(x).all() for x in leaves))}


config = configs.load("ignn_tiny_x2")
config.model.update(n_resblocks=1, n_feats=8, window=3, dtype="float64")
module = build_model(config.model, config.task.scale)
optimizer = optim.make_optimizer(config.train)
batch = {"input": rng.random((1, 24, 24, 3)), "target": rng.random((1, 48, 48, 3))}
driver = parallel.make_driver("shard_map", step_lib.make_train_step(
    module, config.model.pixel_range, losses.l1, optimizer))
state = driver.init(lambda: state_lib.init_train_state(module, optimizer,
                                                       jnp.asarray(batch["input"]), 0))
before = jax.device_get(state.params)
state, metrics = driver.step(state, driver.put_batch(batch))
after = jax.device_get(state.params)
out["ignn_step"] = report(jax.tree.leaves(after) + jax.tree.leaves(state.frozen)
                          + list(metrics.values()))
out["ignn_step"]["moved"] = max(float(np.max(np.abs(a - b))) for a, b in
                                zip(jax.tree.leaves(after), jax.tree.leaves(before)))

dist, idx = windowed_knn(rng.random((1, 6, 5, 4)), rng.random((1, 4, 4, 4)), 2, 3, 2, chunk=2)
out["knn"] = {"dtypes": [str(dist.dtype), str(idx.dtype)]}

for name in ("magn_tiny_denoise_gray_s25", "dncnn_tiny_denoise_gray_s25"):
    config = configs.load(name)
    config.model.dtype = "float64"
    module = build_model(config.model)
    x = rng.random((1, 16, 16, 1))
    variables = jax.jit(module.init)(jax.random.key(0), x)
    out[name] = report(jax.tree.leaves(variables) + [jax.jit(module.apply)(variables, x)])
print(json.dumps(out))
"""


@pytest.fixture(scope="module")
def x64_run():
    env = {**os.environ, "JAX_ENABLE_X64": "1", "JAX_PLATFORMS": "cpu"}
    done = subprocess.run([sys.executable, "-c", SCRIPT], env=env, capture_output=True,
                          text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_ignn_trains_one_step_in_float64(x64_run):
    step = x64_run["ignn_step"]
    assert step["dtypes"] == ["float64"] and step["finite"]
    assert step["moved"] > 0


def test_knn_chunked_loop_runs_under_x64(x64_run):
    assert x64_run["knn"]["dtypes"] == ["float64", "int32"]


@pytest.mark.parametrize("name", ["magn_tiny_denoise_gray_s25", "dncnn_tiny_denoise_gray_s25"])
def test_forward_in_float64(x64_run, name):
    assert x64_run[name] == {"dtypes": ["float64"], "finite": True}


def test_float64_without_x64_is_one_config_error():
    config = configs.load("dncnn_tiny_denoise_gray_s25")
    config.model.dtype = "float64"
    with pytest.raises(ConfigError, match="JAX_ENABLE_X64=1"):
        build_model(config.model)
