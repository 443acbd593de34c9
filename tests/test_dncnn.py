"""DnCNN baseline: the published DnCNN-S parameter count, shapes, BN collections, configs."""
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxrestore import configs
from jaxrestore.models import build_model
from jaxrestore.models.dncnn import DnCNN, from_config


def count(tree) -> int:
    return int(sum(np.prod(leaf.shape) for leaf in jax.tree.leaves(tree)))


def test_dncnn_s_has_the_published_parameter_count():
    """DnCNN-S (17 layers, 64 features, grey, BN, bias-free convs): 556,032 trainable
    parameters, the number quoted for DnCNN-S; BN running statistics are not parameters."""
    x = jax.ShapeDtypeStruct((1, 40, 40, 1), jnp.float32)
    variables = jax.eval_shape(DnCNN(channels=1, n_feats=64, depth=17, batch_norm=True).init,
                               jax.random.key(0), x)
    assert count(variables["params"]) == 556_032
    assert count(variables["batch_stats"]) == 15 * 2 * 64     # mean and var of 15 BN layers


def test_dncnn_without_bn_replaces_bn_by_conv_biases():
    x = jax.ShapeDtypeStruct((1, 40, 40, 1), jnp.float32)
    variables = jax.eval_shape(DnCNN(channels=1).init, jax.random.key(0), x)
    assert set(variables) == {"params"}
    # 17 convs with biases: 9*1*64+64, 15 x (9*64*64+64), 9*64*1+1
    assert count(variables["params"]) == 640 + 15 * 36_928 + 577


def test_dncnn_shapes_residual_and_batch_norm_modes():
    model = DnCNN(channels=3, n_feats=8, depth=4, batch_norm=True)
    x = jax.random.uniform(jax.random.key(0), (2, 13, 17, 3))
    variables = jax.jit(model.init)(jax.random.key(1, impl="rbg"), x)  # rbg: fast to compile
    y = jax.jit(model.apply)(variables, x)
    assert y.shape == x.shape
    y_train, updates = jax.jit(
        lambda v, x: model.apply(v, x, train=True, mutable=["batch_stats"]))(variables, x)
    assert y_train.shape == x.shape
    assert not np.allclose(updates["batch_stats"]["bn_1"]["mean"],
                           variables["batch_stats"]["bn_1"]["mean"])
    # the output is input + residual: zero last conv => identity
    params = jax.tree.map(lambda a: a, variables["params"])
    params["conv_3"]["kernel"] = jnp.zeros_like(params["conv_3"]["kernel"])
    np.testing.assert_allclose(model.apply({**variables, "params": params}, x), x, atol=0)


@pytest.mark.parametrize("name", ["dncnn_denoise_gray_s25", "dncnn_tiny_denoise_gray_s25"])
def test_dncnn_configs_build(name):
    config = configs.load(name)
    assert config.task.name == "denoise" and config.task.sigma == 25.0
    model = build_model(config.model)
    x = jnp.zeros((1, 11, 9, 1))
    variables = jax.eval_shape(model.init, jax.random.key(0), x)
    assert jax.eval_shape(model.apply, variables, x).shape == x.shape


def test_dncnn_config_errors_are_clear():
    with pytest.raises(ValueError, match="unknown DnCNN config fields: width"):
        from_config({"name": "dncnn", "pixel_range": 1.0, "width": 3})
    with pytest.raises(ValueError, match=r"expects \(B, H, W, 1\)"):
        DnCNN(channels=1).init(jax.random.key(0), jnp.zeros((1, 8, 8, 3)))
