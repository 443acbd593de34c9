"""MAGN: graph-attention ops against NumPy oracles, permutation symmetries, linear memory of the
element graph, shapes and parameter counts of every task config, gradient flow, and a tiny
model that learns to denoise."""
import importlib.util
import pathlib
import time

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import optax
import pytest

from jaxrestore.models import build_model
from jaxrestore.models.magn import MAGN, ElementGraph, from_config
from jaxrestore.ops.graph_attention import (block_graph_aggregate, element_graph_attention,
                                            window_candidates)

REPO = pathlib.Path(__file__).resolve().parents[1]
MAGN_CONFIGS = sorted(REPO.glob("configs/magn_*.py"))
TASK_CONFIGS = [p for p in MAGN_CONFIGS if p.name != "magn_common.py"]


def load_config(path: pathlib.Path):
    spec = importlib.util.spec_from_file_location(path.stem, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.get_config()


def count(tree) -> int:
    return int(sum(np.prod(leaf.shape) for leaf in jax.tree.leaves(tree)))


def init_params(model, x):
    """Jitted init with an RBG key (threefry-based init takes far longer to compile on CPU)."""
    return jax.jit(model.init)(jax.random.key(0, impl="rbg"), x)


def tiny_magn(**overrides) -> MAGN:
    fields = dict(in_channels=1, out_channels=1, n_feats=8, n_resblocks=2, n_graph_blocks=1,
                  n_between=0, heads=2, element_pool=2, patch=4, stride=2, window=3, top_k=3,
                  embed=4)
    fields.update(overrides)
    return MAGN(**fields)


# ---------------------------------------------------------------- graph ops vs NumPy oracles

def softmax(a, axis=-1):
    e = np.exp(a - a.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


def test_window_candidates_by_hand():
    cand = window_candidates((3, 4), 3)
    assert cand.shape == (12, 9)
    # node (0, 0): rows 0-2 (the whole grid), columns 0-2 (window shifted inwards)
    np.testing.assert_array_equal(cand[0], [0, 1, 2, 4, 5, 6, 8, 9, 10])
    # node (1, 3): columns clamped to 1-3
    np.testing.assert_array_equal(cand[1 * 4 + 3], [1, 2, 3, 5, 6, 7, 9, 10, 11])
    # node (1, 1): centred
    np.testing.assert_array_equal(cand[5], [0, 1, 2, 4, 5, 6, 8, 9, 10])
    assert all(n in cand[n] for n in range(12))
    # a window larger than the grid takes the whole grid
    np.testing.assert_array_equal(window_candidates((2, 2), 5), np.tile(np.arange(4), (4, 1)))


def test_element_graph_attention_matches_numpy():
    rng = np.random.default_rng(0)
    q = rng.standard_normal((2, 37, 3, 5)).astype(np.float32)   # 37 queries: ragged chunks
    k = rng.standard_normal((2, 11, 3, 5)).astype(np.float32)
    v = rng.standard_normal((2, 11, 3, 4)).astype(np.float32)
    out = element_graph_attention(q, k, v, chunk=8)
    p = softmax(np.einsum("bnhd,bmhd->bhnm", q, k) / np.sqrt(5))
    np.testing.assert_allclose(out, np.einsum("bhnm,bmhd->bnhd", p, v), atol=1e-5)


def test_element_graph_is_permutation_equivariant():
    rng = np.random.default_rng(1)
    q, k, v = (rng.standard_normal((1, 50, 2, 4)).astype(np.float32) for _ in range(3))
    out = np.asarray(element_graph_attention(q, k, v, chunk=16))
    perm = rng.permutation(50)
    # relabelling the query nodes relabels the output rows
    np.testing.assert_allclose(element_graph_attention(q[:, perm], k, v, chunk=16),
                               out[:, perm], atol=1e-5)
    # the order of the key/value nodes does not matter
    np.testing.assert_allclose(element_graph_attention(q, k[:, perm], v[:, perm], chunk=16),
                               out, atol=1e-5)


def block_graph_oracle(q, k, v, cand, top_k):
    """Loops: for each node and head, score all candidates, keep the top_k, softmax, average."""
    b, m, h, d = q.shape
    out = np.zeros(v.shape[:3] + (v.shape[-1],), np.float64)
    for bi in range(b):
        for n in range(m):
            for hi in range(h):
                scores = np.array([q[bi, n, hi] @ k[bi, c, hi] for c in cand[bi, n]]) / np.sqrt(d)
                best = np.argsort(-scores, kind="stable")[:top_k]
                w = softmax(scores[best])
                out[bi, n, hi] = sum(wi * v[bi, cand[bi, n, j], hi] for wi, j in zip(w, best))
    return out


def test_block_graph_aggregate_matches_numpy():
    rng = np.random.default_rng(2)
    q, k = (rng.standard_normal((2, 12, 2, 3)).astype(np.float32) for _ in range(2))
    v = rng.standard_normal((2, 12, 2, 5)).astype(np.float32)
    cand = np.broadcast_to(window_candidates((3, 4), 3), (2, 12, 9))
    out = block_graph_aggregate(q, k, v, cand, 4, chunk=5)
    np.testing.assert_allclose(out, block_graph_oracle(q, k, v, cand, 4), atol=1e-5)


def test_block_graph_ignores_candidate_order_and_node_labels():
    rng = np.random.default_rng(3)
    q, k = (rng.standard_normal((1, 20, 2, 3)).astype(np.float32) for _ in range(2))
    v = rng.standard_normal((1, 20, 2, 6)).astype(np.float32)
    cand = np.stack([rng.choice(20, 7, replace=False) for _ in range(20)])[None]
    out = np.asarray(block_graph_aggregate(q, k, v, cand, 3, chunk=8))
    # shuffling each node's candidate list does not change anything
    shuffled = np.stack([row[rng.permutation(7)] for row in cand[0]])[None]
    np.testing.assert_allclose(block_graph_aggregate(q, k, v, shuffled, 3, chunk=8), out,
                               atol=1e-5)
    # relabelling the nodes (rows and the indices that point at them) permutes the output
    perm = rng.permutation(20)
    new_label = np.argsort(perm)             # node perm[i] is now called i
    relabelled = new_label[cand[:, perm]]
    np.testing.assert_allclose(
        block_graph_aggregate(q[:, perm], k[:, perm], v[:, perm], relabelled, 3, chunk=8),
        out[:, perm], atol=1e-5)


def test_block_graph_rejects_top_k_above_candidates():
    x = jnp.zeros((1, 4, 1, 2))
    with pytest.raises(ValueError, match="exceeds"):
        block_graph_aggregate(x, x, x, jnp.zeros((1, 4, 2), jnp.int32), 3)


# ---------------------------------------------------------------------------------- memory

def element_graph_temp_bytes(h: int, w: int, chunk: int) -> int:
    graph = ElementGraph(heads=4, pool=4, chunk=chunk)
    x = jax.ShapeDtypeStruct((1, h, w, 16), jnp.float32)
    params = jax.eval_shape(graph.init, jax.random.key(0), x)
    compiled = jax.jit(graph.apply).lower(params, x).compile()
    return compiled.memory_analysis().temp_size_in_bytes


def test_element_graph_memory_is_linear_in_pixels():
    small, large = element_graph_temp_bytes(128, 128, 256), element_graph_temp_bytes(128, 256, 256)
    ratio = large / small
    print(f"element graph temp bytes: {small} -> {large} at 2x pixels (ratio {ratio:.2f})")
    assert 1.6 < ratio < 2.4
    # The measurement can tell: one chunk holding all queries (dense N x N/16 scores) is ~4x.
    dense = element_graph_temp_bytes(128, 256, 128 * 256) / element_graph_temp_bytes(
        128, 128, 128 * 128)
    print(f"with one chunk for all queries the ratio is {dense:.2f}")
    assert dense > 3.2


# --------------------------------------------------------------------------------- configs

def test_every_task_has_a_full_and_a_tiny_config():
    names = {p.stem for p in TASK_CONFIGS}
    tasks = ([f"denoise_{c}_{s}" for c in ("gray", "color") for s in ("s15", "s25", "s50", "blind")]
             + [f"jpeg_q{q}" for q in (10, 20, 30, 40)] + ["demosaic"])
    assert names == {f"magn_{t}" for t in tasks} | {f"magn_tiny_{t}" for t in tasks}


def distinct_models(tiny: bool):
    """{model config as a sorted tuple: [config names]} over the tiny or the full task configs
    (many tasks share one architecture; each distinct one is built and run once)."""
    models = {}
    for path in TASK_CONFIGS:
        if ("_tiny_" in path.name) == tiny:
            config = load_config(path)
            assert config.model.name == "magn" and config.model.pixel_range == 1.0
            assert config.task.name in ("denoise", "jpeg", "demosaic")
            assert config.model.in_channels == config.model.out_channels == config.task.channels
            if config.task.name == "demosaic":
                assert config.task.channels == 3
            key = tuple(sorted(config.model.to_dict().items()))
            models.setdefault(key, []).append(path.stem)
    return models


def test_tiny_configs_run_on_any_size():
    models = distinct_models(tiny=True)
    assert sum(len(names) for names in models.values()) == 13
    for key in models:
        model = build_model(ml_collections.ConfigDict(dict(key)))
        x = jax.random.uniform(jax.random.key(0), (1, 21, 26, dict(key)["in_channels"]))
        variables = init_params(model, x)
        assert set(variables) == {"params"}
        y = jax.jit(model.apply)(variables, x)
        assert y.shape == x.shape and bool(jnp.isfinite(y).all())


def full_param_count_by_hand(channels: int) -> int:
    """DAGL-sized MAGN, counted from the architecture in docs/magn.md (weights + biases)."""
    c, embed, patch, heads = 64, 16, 7, 4
    conv = lambda k, cin, cout: k * k * cin * cout + cout
    resblock = 2 * conv(3, c, c)
    e = patch * patch * embed                      # patch node embedding: 784
    d = e // 4                                     # per-head width: 196
    element = conv(1, c, c) + conv(1, c, 2 * c) + conv(1, c, c)
    block = conv(1, c, embed) + 2 * conv(1, e, heads * d) + conv(3, c, c) + conv(1, c, c)
    fusion = 2 * conv(1, c, c) + conv(1, 2 * c, c)
    return (conv(3, channels, c) + (8 + 8 + 2 * 4) * resblock + 3 * (element + block + fusion)
            + conv(3, c, c) + conv(3, c, channels))


def test_full_config_parameter_counts():
    models = distinct_models(tiny=False)
    assert sum(len(names) for names in models.values()) == 13
    for key, names in models.items():
        channels = dict(key)["in_channels"]
        model = build_model(ml_collections.ConfigDict(dict(key)))
        x = jax.ShapeDtypeStruct((1, 64, 64, channels), jnp.float32)
        shapes = jax.eval_shape(model.init, jax.random.key(0), x)
        n = count(shapes["params"])
        print(f"{n:,} parameters: {', '.join(names)}")
        assert n == full_param_count_by_hand(channels)
        assert 5.0e6 < n < 6.0e6                   # DAGL's scale (5.6 M reported)
        assert jax.eval_shape(model.apply, shapes, x).shape == x.shape


def test_config_errors_are_clear():
    config = load_config(REPO / "configs/magn_tiny_denoise_gray_s25.py")
    config.model.unknown_knob = 3
    with pytest.raises(ValueError, match="unknown MAGN config fields: unknown_knob"):
        from_config(config.model)
    model = tiny_magn()
    x = jnp.zeros((1, 8, 8, 3))
    with pytest.raises(ValueError, match=r"expects \(B, H, W, 1\)"):
        model.init(jax.random.key(0), x)


# ------------------------------------------------------------------------------- gradients

@pytest.mark.parametrize("fusion", ["cross_gate", "concat"])
def test_gradients_reach_both_branches_and_the_fusion(fusion):
    model = tiny_magn(fusion=fusion)
    x = jax.random.uniform(jax.random.key(0), (2, 12, 14, 1))
    target = jax.random.uniform(jax.random.key(1), x.shape)
    params = init_params(model, x)["params"]
    grads = jax.jit(jax.grad(
        lambda p: jnp.mean((model.apply({"params": p}, x) - target) ** 2)))(params)
    block = grads["graph_0"]
    assert set(block) == {"element_graph", "block_graph", "fusion"}
    expected = {"cross_gate": {"gate_from_local", "gate_from_global", "merge"},
                "concat": {"merge"}}[fusion]
    assert set(block["fusion"]) == expected
    for branch in ("element_graph", "block_graph", "fusion"):
        for path, g in jax.tree_util.tree_leaves_with_path(block[branch]):
            assert float(jnp.abs(g).max()) > 0, f"zero gradient at {branch}{path}"


# -------------------------------------------------------------------------------- learning

def test_tiny_magn_learns_to_denoise():
    """A tiny MAGN trained for 200 steps on 32x32 crops of three photos beats the noisy input (sigma 25) on
    crops of two other photos."""
    skimage_data = pytest.importorskip("skimage.data")
    from jaxrestore.data.degradations import add_gaussian_noise
    from jaxrestore.metrics import psnr

    def crops(image, n, size, rng):
        image = image.astype(np.float32) / 255.0
        rows = rng.integers(0, image.shape[0] - size, n)
        cols = rng.integers(0, image.shape[1] - size, n)
        return np.stack([image[r:r + size, c:c + size, None] for r, c in zip(rows, cols)])

    rng = np.random.default_rng(0)
    train = np.concatenate([crops(getattr(skimage_data, name)(), 64, 32, rng)
                            for name in ("camera", "coins", "moon")])
    held_out = np.concatenate([crops(skimage_data.text(), 4, 48, rng),
                               crops(skimage_data.page(), 4, 48, rng)])
    noisy_held_out = add_gaussian_noise(held_out, 25.0, 0).astype(np.float32)

    model = tiny_magn(n_feats=16, heads=2, element_pool=4, patch=5, stride=4, window=5,
                      top_k=4, embed=8)
    params = init_params(model, train[:1])["params"]
    optimiser = optax.adam(2e-3)
    opt_state = optimiser.init(params)

    @jax.jit
    def step(params, opt_state, noisy, clean):
        loss, grads = jax.value_and_grad(
            lambda p: jnp.mean(jnp.abs(model.apply({"params": p}, noisy) - clean)))(params)
        updates, opt_state = optimiser.update(grads, opt_state)
        return optax.apply_updates(params, updates), opt_state, loss

    start = time.time()
    for _ in range(200):
        batch = train[rng.integers(0, len(train), 8)]
        noisy = add_gaussian_noise(batch, 25.0, rng).astype(np.float32)
        params, opt_state, loss = step(params, opt_state, noisy, batch)
        loss.block_until_ready()
    restored = np.asarray(jax.jit(model.apply)({"params": params}, noisy_held_out))
    before = np.mean([psnr(n, c) for n, c in zip(noisy_held_out, held_out)])
    after = np.mean([psnr(r, c) for r, c in zip(restored, held_out)])
    print(f"held-out PSNR noisy {before:.2f} dB -> restored {after:.2f} dB "
          f"({time.time() - start:.1f} s)")
    assert after > before + 2.0
