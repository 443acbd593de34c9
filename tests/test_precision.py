"""bfloat16 computation: parameters stay float32, the convolutions really run in bfloat16, the
parts that must not (kNN ranking, AdaIN statistics, softmaxes, attention means, the output)
stay float32, and outputs stay near the float32 model's.

Oracles: the float32 computation of the same (bfloat16-rounded) inputs, and XLA's own
convolution in bfloat16.
"""
import jax
import jax.extend.core
import jax.numpy as jnp
import numpy as np
import pytest

from jaxrestore import configs
from jaxrestore.config import model_signature
from jaxrestore.models import build_model
from jaxrestore.ops.aggregate import cross_scale_aggregate
from jaxrestore.ops.conv import conv2d
from jaxrestore.ops.graph_attention import block_graph_aggregate, linear_graph_attention

BF16 = jnp.bfloat16


SMALLER = {"dncnn_tiny_denoise_gray_s25": dict(depth=4),   # small copies: compile fast
           "magn_tiny_denoise_gray_s25": dict(n_resblocks=0),
           "ignn_tiny_x2": dict(n_resblocks=2, n_feats=16)}


def _model(name, dtype):
    config = configs.load(name)
    config.model.update(dtype=dtype, **SMALLER[name])
    return build_model(config.model, model_signature(config).scale), config.model.pixel_range


def _conv_operand_dtypes(jaxpr) -> list[str]:
    """The input dtype of every convolution in a jaxpr, nested ones included."""
    found = []
    for eqn in jaxpr.eqns:
        if eqn.primitive.name == "conv_general_dilated":
            found.append(str(eqn.invars[0].aval.dtype))
        for sub in jax.extend.core.jaxprs_in_params(eqn.params):
            found += _conv_operand_dtypes(sub)
    return found


@pytest.mark.parametrize("name, channels, frozen_convs", [
    ("dncnn_tiny_denoise_gray_s25", 1, 0),
    ("magn_tiny_denoise_gray_s25", 1, 0),
    ("ignn_tiny_x2", 3, 8),  # mean shifts (2) and the VGG embedding (3, of LR and son) stay f32
])
def test_bfloat16_models(name, channels, frozen_convs):
    x = jnp.asarray(np.random.default_rng(0).random((1, 24, 28, channels)), jnp.float32)
    f32, pixel_range = _model(name, "float32")
    bf16, _ = _model(name, "bfloat16")
    variables = jax.jit(f32.init)(jax.random.key(0, impl="unsafe_rbg"), x * pixel_range)
    variables = {**variables, "params": jax.tree.map(lambda p: 3 * p, variables["params"])}
    # the same parameter tree (float32) serves both
    shapes = jax.eval_shape(bf16.init, jax.random.key(0), x)
    assert jax.tree.structure(shapes) == jax.tree.structure(variables)
    assert all(leaf.dtype == jnp.float32 for leaf in jax.tree.leaves(shapes))
    jaxpr = jax.make_jaxpr(lambda v: bf16.apply(v, x * pixel_range))(variables).jaxpr
    dtypes = _conv_operand_dtypes(jaxpr)
    assert dtypes.count("float32") == frozen_convs and dtypes.count("bfloat16") >= 3, dtypes
    want = jax.jit(f32.apply)(variables, x * pixel_range)
    got = jax.jit(bf16.apply)(variables, x * pixel_range)
    assert got.dtype == jnp.float32
    error = float(jnp.sqrt(jnp.mean((got - want) ** 2)) / jnp.std(want))
    assert 1e-5 < error < 0.05, error  # bfloat16 really used, and close to the float32 result


def test_winograd_is_float32_only():
    rng = np.random.default_rng(1)
    x = jnp.asarray(rng.standard_normal((1, 12, 12, 64)), BF16)
    kernel = jnp.asarray(rng.standard_normal((3, 3, 64, 64)) / 24, jnp.float32)
    got = conv2d(x, kernel, jnp.zeros(64), algorithm="winograd")
    want = jax.lax.conv_general_dilated(x, kernel.astype(BF16), (1, 1), ((1, 1), (1, 1)),
                                        dimension_numbers=("NHWC", "HWIO", "NHWC"))
    assert got.dtype == BF16
    np.testing.assert_array_equal(np.asarray(got, np.float32), np.asarray(want, np.float32))


def _rounded(*arrays):
    """bfloat16 copies of the arrays and their exact float32 values."""
    low = [jnp.asarray(a, BF16) for a in arrays]
    return low, [a.astype(jnp.float32) for a in low]


def test_attention_means_and_rankings_are_float32():
    rng = np.random.default_rng(2)
    (q, k, v), exact = _rounded(*(rng.standard_normal((1, 300, 2, 8)) for _ in range(3)))
    got = linear_graph_attention(q, k, v)
    assert got.dtype == BF16
    np.testing.assert_array_equal(np.asarray(got, np.float32),
                                  np.asarray(linear_graph_attention(*exact).astype(BF16),
                                             np.float32))
    candidates = jnp.asarray(rng.integers(0, 300, (1, 300, 12)), jnp.int32)
    got = block_graph_aggregate(q, k, v, candidates, 4)
    want = block_graph_aggregate(*exact, candidates, 4)
    np.testing.assert_allclose(np.asarray(got, np.float32), np.asarray(want), rtol=0.02,
                               atol=0.02)  # same neighbours: only the value sums round


def test_adain_statistics_are_float32():
    rng = np.random.default_rng(3)
    (y, y_down), exact = _rounded(rng.standard_normal((1, 12, 12, 4)),
                                  rng.standard_normal((1, 6, 6, 16)))
    idx = jnp.asarray(rng.integers(0, 9, (1, 6, 6, 2)), jnp.int32)
    got = cross_scale_aggregate(y, y_down, idx, 2, 3, 2)
    want = cross_scale_aggregate(*exact, idx, 2, 3, 2)
    assert got.dtype == BF16
    # the affine map is applied in float32 and rounded once, then the overlaps are averaged
    # in bfloat16: within a few bfloat16 steps of the output's scale
    error = np.abs(np.asarray(got, np.float32) - np.asarray(want)).max()
    assert error <= 2 ** -6 * np.abs(np.asarray(want)).max()
