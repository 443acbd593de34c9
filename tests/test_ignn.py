"""IGNN in Flax: parity with the original PyTorch forward passes, parameter counts, sizes, batch.

Oracles: the original's outputs in ../shared/ignn_reference (converted state_dicts), the
original's parameter counts (published by its `count_parameters`), hand-counted EDSR sizes,
and the original data loader's son image rule.
"""
import json
import pathlib

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxrestore import configs, convert
from jaxrestore.models import build_model, ignn, layers
from jaxrestore.ops.imresize import imresize_np

CONFIGS = pathlib.Path(__file__).resolve().parents[1] / "configs"
REFERENCE_CASES = ["tiny_x2_lr48", "tiny_x2_w8_44x60", "tiny_x3_w8_54x72", "tiny_x4_lr48",
                   "tiny_x4_w8_44x60"]


def count(tree) -> int:
    return sum(int(np.prod(leaf.shape)) for leaf in jax.tree.leaves(tree))


def init_shapes(model, hw=(24, 24)):
    lr = jax.ShapeDtypeStruct((1, *hw, 3), jnp.float32)
    return jax.eval_shape(lambda x: model.init(jax.random.key(0), x), lr)


@pytest.mark.parametrize("name, expected", [
    ("ignn_x2", 47_152_233), ("ignn_x3", 50_102_633), ("ignn_x4", 49_512_553),
    ("ignn_tiny_x2", 285_385), ("ignn_tiny_x3", 331_625), ("ignn_tiny_x4", 322_377)])
def test_parameter_counts_match_the_original(name, expected):
    config = configs.load(name)
    shapes = init_shapes(build_model(config.model, config.task.scale))
    # The original counts every nn.Parameter once (the shared VGG module once): trainable
    # weights plus the frozen mean shifts and VGG conv1_1/conv1_2.
    assert set(shapes) == {"params", "constants"}
    assert count(shapes["params"]) + count(shapes["constants"]) == expected
    assert set(shapes["constants"]) == {"sub_mean", "add_mean", "embedding"}
    assert count(shapes["constants"]) == 2 * 12 + 12 + (3 * 9 * 64 + 64) + (64 * 9 * 64 + 64)


@pytest.mark.parametrize("scale", [2, 3, 4])
def test_edsr_trunk_without_graph(scale):
    n, blocks = 16, 4
    model = ignn.IGNN(scale=scale, n_resblocks=blocks, n_feats=n, use_graph=False)
    shapes = init_shapes(model)
    conv = lambda cin, cout: 9 * cin * cout + cout  # noqa: E731
    ups = {2: conv(n, 4 * n), 3: conv(n, 9 * n), 4: 2 * conv(n, 4 * n)}[scale]
    edsr = conv(3, n) + 2 * blocks * conv(n, n) + conv(n, n) + ups + conv(n, 3)
    assert count(shapes["params"]) == edsr
    assert set(shapes["constants"]) == {"sub_mean", "add_mean"}


def test_pixel_embedding_feeds_three_channel_edges():
    shapes = init_shapes(ignn.IGNN(scale=2, n_resblocks=2, n_feats=8, embedding="pixels"))
    assert "embedding" not in shapes["constants"]
    assert shapes["params"]["gcn"]["weightnet_lr"]["conv_in"]["kernel"].shape == (1, 1, 3, 64)


def load_case(case_dir: pathlib.Path, fmt: str):
    state = convert.load_state_dict(case_dir / f"state.{fmt}")
    config, variables = convert.convert_ignn(state)
    meta = json.loads((case_dir / "meta.json").read_text())
    config.model.window = meta["cfg_network"]["WINDOW_SIZE"]
    assert config.model.scale == meta["scale"]
    return ignn.from_config(config.model), jax.tree.map(jnp.asarray, variables)


def nhwc(path):
    """A reference array (NCHW, or CHW without batch) as NHWC."""
    a = np.load(path)
    return a.transpose(0, 2, 3, 1) if a.ndim == 4 else a.transpose(1, 2, 0)[None]


@pytest.fixture(scope="module", params=REFERENCE_CASES)
def reference_case(request, ignn_reference):
    case_dir = ignn_reference / request.param
    if not case_dir.is_dir():
        pytest.skip(f"{case_dir} not present")
    return case_dir


def run_capturing(model, variables, lr, son=None):
    """Output plus the graph (idx, edges) and the GCN block's (lr, hr) outputs."""
    out, state = model.apply(
        variables, lr, son,
        capture_intermediates=lambda mdl, method: (
            (method == "graph" and isinstance(mdl, ignn.IGNN))
            or (method == "__call__" and isinstance(mdl, ignn.GCNBlock))),
        mutable=["intermediates"])
    found = state["intermediates"]
    (idx, _), = found["graph"]
    (_, gcn_hr), = found["gcn"]["__call__"]
    return out, idx, gcn_hr


_capture = jax.jit(run_capturing, static_argnums=0)


@pytest.mark.parametrize("conv_algorithm", ["direct", "winograd"])
def test_reference_parity(reference_case, conv_algorithm):
    """Both convolution algorithms with the reference son; and, with the direct algorithm
    (the cheaper one to compile), with the son the model computes itself (float32 bicubic,
    within 5e-5 of the reference son)."""
    model, variables = load_case(reference_case, "npz")
    model = model.clone(conv_algorithm=conv_algorithm)
    lr = jnp.asarray(nhwc(reference_case / "lr.npy"))
    son = jnp.asarray(nhwc(reference_case / "son.npy"))
    out, idx, gcn_hr = _capture(model, variables, lr, son)

    want_idx = np.load(reference_case / "eval_idx_k.npy")
    want_out = nhwc(reference_case / "eval_out.npy")
    np.testing.assert_array_equal(np.asarray(idx).reshape(want_idx.shape), want_idx)
    np.testing.assert_allclose(gcn_hr, nhwc(reference_case / "eval_gcn_hr.npy"), rtol=0, atol=1e-2)
    np.testing.assert_allclose(out, want_out, rtol=0, atol=1e-4)
    if conv_algorithm == "direct":
        out_self = jax.jit(model.apply)(variables, lr)
        np.testing.assert_allclose(out_self, want_out, rtol=0, atol=1e-4)


def test_pth_converts_like_npz(reference_case):
    """The original code's torch.save files, read without torch (jaxrestore.weights.pth)."""
    from_pth = convert.convert_ignn(convert.load_state_dict(reference_case / "state.pth"))[1]
    from_npz = convert.convert_ignn(convert.load_state_dict(reference_case / "state.npz"))[1]
    assert jax.tree.structure(from_pth) == jax.tree.structure(from_npz)
    for a, b in zip(jax.tree.leaves(from_pth), jax.tree.leaves(from_npz)):
        np.testing.assert_array_equal(a, b)


@pytest.fixture(scope="module")
def tiny_x3():
    """A small ×3 IGNN with random variables (drawn in NumPy: compiling `init` costs ~10 s)."""
    model = ignn.IGNN(scale=3, n_resblocks=2, n_feats=8, window=4)
    rng = np.random.default_rng(1)
    variables = jax.tree.map(lambda s: jnp.asarray(rng.normal(0, 0.1, s.shape), jnp.float32),
                             init_shapes(model))
    return model, variables


def test_mean_shifts_are_the_originals():
    shift = layers.mean_shift((0.4488, 0.4371, 0.4040), value_range=255.0, sign=-1.0)
    const = shift.init(jax.random.key(0), jnp.zeros((1, 1, 1, 3)))["constants"]
    np.testing.assert_allclose(const["kernel"][0, 0], np.eye(3), rtol=1e-7)
    np.testing.assert_allclose(const["bias"], [-114.444, -111.4605, -103.02], rtol=1e-6)
    vgg = layers.mean_shift((0.485, 0.456, 0.406), (0.229, 0.224, 0.225), 1.0, -1.0)
    x = jnp.asarray([[[[0.2, 0.5, 0.9]]]])
    np.testing.assert_allclose(vgg.apply(vgg.init(jax.random.key(0), x), x)[0, 0, 0],
                               [(0.2 - 0.485) / 0.229, (0.5 - 0.456) / 0.224,
                                (0.9 - 0.406) / 0.225], rtol=1e-6)


def test_son_image_is_the_data_loaders():
    lr = np.random.default_rng(0).uniform(0, 255, (1, 25, 31, 3)).astype(np.float32)
    want = np.clip(imresize_np(lr[0, :24, :30].astype(np.float64) / 255, 1 / 3) * 255, 0, 255)
    np.testing.assert_allclose(ignn.son_image(jnp.asarray(lr), 3)[0], want, rtol=0, atol=1e-4)


def test_sizes_not_multiple_of_scale_or_stride(tiny_x3):
    model, variables = tiny_x3
    # 25 and 31: not multiples of the scale 3 nor of the patch stride 2 (LR and son grids padded).
    lr = jnp.asarray(np.random.default_rng(0).uniform(0, 255, (1, 25, 31, 3)), jnp.float32)
    out, idx, gcn_hr = _capture(model, variables, lr)
    assert out.shape == (1, 75, 93, 3) and gcn_hr.shape == (1, 75, 93, 8)
    assert np.isfinite(np.asarray(out)).all()
    son_grid = ((8 + 1 - 3) // 2 + 1) * ((10 + 1 - 3) // 2 + 1)       # son 8x10, padded 9x11
    assert idx.shape == (1, 12, 15, 5) and 0 <= idx.min() and idx.max() < son_grid


def test_batch_of_two_equals_two_single_calls(tiny_x3):
    model, variables = tiny_x3
    # The single calls have the previous test's shape, so they reuse its compiled network.
    lr = jnp.asarray(np.random.default_rng(2).uniform(0, 255, (2, 25, 31, 3)), jnp.float32)
    both = _capture(model, variables, lr)[0]
    for i in range(2):
        np.testing.assert_allclose(both[i:i + 1], _capture(model, variables, lr[i:i + 1])[0],
                                   rtol=0, atol=1e-4)


def test_frozen_variables_get_no_gradient(tiny_x3):
    model, variables = tiny_x3
    lr = jnp.asarray(np.random.default_rng(3).uniform(0, 255, (1, 18, 18, 3)), jnp.float32)
    grads = jax.jit(jax.grad(lambda v: jnp.mean(model.apply(v, lr) ** 2)))(variables)
    assert all(float(jnp.abs(g).max()) == 0 for g in jax.tree.leaves(grads["constants"]))
    gcn = grads["params"]["gcn"]
    assert float(jnp.abs(gcn["weightnet_hr"]["conv_in"]["kernel"]).max()) > 0
    assert float(jnp.abs(gcn["knn_down0"]["kernel"]).max()) > 0


def test_size_errors(tiny_x3):
    model, variables = tiny_x3
    with pytest.raises(ValueError, match="son image must have shape"):
        model.apply(variables, jnp.zeros((1, 24, 24, 3)), jnp.zeros((1, 12, 12, 3)))
    with pytest.raises(ValueError, match="too small"):
        model.apply(variables, jnp.zeros((1, 9, 12, 3)))
