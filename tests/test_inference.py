"""Restorer: equals the model itself, x8 ensemble, tiling, size buckets, checkpoints.

Oracles: the model's own `apply` on the whole image (not the Restorer), hand-built symmetric
kernels (an equivariant network), and the bound stated in jaxrestore/inference.py.
"""
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from configs.common import base_config
from jaxrestore import checkpoints
from jaxrestore.inference import CheckpointError, InputError, Restorer, load_checkpoint
from jaxrestore.models import apply_unit_range, build_model


def dncnn_config(channels=3, features=4, depth=3, task="denoise"):
    config = base_config()
    config.model.name = "dncnn"
    config.model.pixel_range = 1.0
    config.model.channels = channels
    config.model.features = features
    config.model.depth = depth
    config.model.batch_norm = False
    config.task.name = task
    config.task.channels = channels
    return config


def ignn_config():
    from jaxrestore.models.ignn import model_config as ignn_model_config

    config = base_config()
    config.model = ignn_model_config(scale=2, n_resblocks=2, n_feats=8, embedding="pixels",
                                     window=8)
    config.task.name = "sr"
    config.task.scale = 2
    return config


def init(config, seed=0, size=16):
    """Random variables of the config's model (jitted init; the 'rbg' PRNG compiles faster)."""
    x = jnp.zeros((1, size, size, config.task.channels if config.task.name != "demosaic" else 3))
    key = jax.random.key(seed, impl="unsafe_rbg")
    return jax.jit(build_model(config.model).init)(key, x)


@pytest.fixture(scope="module")
def ignn():
    """A tiny x2 IGNN with its graph (pixel embedding): (config, variables). Weights are
    scaled x5 from the init so the output varies with the input (at init scale IGNN's output
    is nearly the constant mean colour, which would make any tiling look right)."""
    config = ignn_config()
    variables = dict(init(config, size=32))
    variables["params"] = jax.tree.map(lambda p: 5 * p, variables["params"])
    return config, variables


def model_output(config, variables, image):
    """The oracle: the bare model (jitted apply) on one whole float image (H, W, C) in [0, 1]."""
    module = build_model(config.model)
    apply = jax.jit(lambda v, x: apply_unit_range(module, v, x, config.model.pixel_range))
    y = apply(variables, jnp.asarray(image)[None])
    return np.clip(np.asarray(y[0]), 0.0, 1.0)


def photo(h, w, channels=3, seed=0):
    """A smooth random image in [0, 1] with some texture."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:h, 0:w] / 7.0
    base = 0.5 + 0.25 * np.sin(yy[..., None] + xx[..., None] * np.arange(1, channels + 1))
    return (base + 0.1 * rng.standard_normal((h, w, channels))).clip(0, 1).astype(np.float32)


def symmetrise(variables):
    """Averages every 3x3 kernel over the 8 dihedral transforms: an equivariant network."""
    def sym(leaf):
        if leaf.ndim != 4:
            return leaf
        copies = [jnp.rot90(leaf, k, axes=(0, 1)) for k in range(4)]
        copies += [jnp.flip(c, axis=0) for c in copies]
        return sum(copies) / 8
    return jax.tree.map(sym, variables)


def test_restore_equals_the_model_at_exact_size():
    config = dncnn_config()
    variables = init(config)
    image = photo(21, 34)
    restorer = Restorer(config, variables, bucket=1)
    np.testing.assert_allclose(restorer.restore([image])[0], model_output(config, variables, image),
                               atol=1e-6)


def test_uint8_and_grey_inputs():
    config = dncnn_config(channels=1)
    variables = init(config)
    image = (photo(20, 24, 1)[..., 0] * 255).round().astype(np.uint8)  # HxW uint8
    out = Restorer(config, variables, bucket=1).restore([image])[0]
    expected = model_output(config, variables, image[..., None].astype(np.float32) / 255)
    assert out.shape == (20, 24, 1) and out.dtype == np.float32
    np.testing.assert_allclose(out, expected, atol=1e-6)


def test_batch_array_in_array_out_equals_singles():
    config = dncnn_config()
    variables = init(config)
    batch = np.stack([photo(16, 20, seed=s) for s in range(3)])
    restorer = Restorer(config, variables, bucket=1, batch_size=2)
    out = restorer.restore(batch)
    assert isinstance(out, np.ndarray) and out.shape == batch.shape
    for image, restored in zip(batch, out):
        np.testing.assert_allclose(restored, model_output(config, variables, image), atol=1e-6)


def test_self_ensemble_of_equivariant_model_equals_plain_model():
    config = dncnn_config()
    variables = symmetrise(init(config))
    image = photo(20, 28)  # not square: the transposed copies have another shape
    plain = Restorer(config, variables).restore([image])[0]
    ensemble = Restorer(config, variables, self_ensemble=True).restore([image])[0]
    np.testing.assert_allclose(ensemble, plain, atol=1e-6)
    # The ensemble is really applied: for a network that is not equivariant it changes things.
    variables = init(config, seed=1)
    plain = Restorer(config, variables).restore([image])[0]
    ensemble = Restorer(config, variables, self_ensemble=True).restore([image])[0]
    assert np.abs(ensemble - plain).max() > 1e-3


def test_bucket_padding_is_cropped_back():
    """Padding to the bucket only changes pixels within the receptive field of the pad."""
    config = dncnn_config(depth=3)  # three 3x3 convs: a pixel sees 3 pixels around it
    variables = init(config)
    image = photo(37, 45)
    out = Restorer(config, variables, bucket=32).restore([image])[0]
    whole = model_output(config, variables, image)
    assert out.shape == whole.shape
    np.testing.assert_allclose(out[:-3, :-3], whole[:-3, :-3], atol=1e-6)


def test_tiled_conv_model_matches_whole_image_on_several_tiles():
    """A local model (3 convs: receptive radius 3) tiled with 16 px overlap: tiling discards
    the outer overlap/4 = 4 px of each inner tile edge, so the output is the whole-image one up
    to float rounding."""
    config = dncnn_config(depth=3)
    variables = init(config)
    image = photo(100, 130)
    restorer = Restorer(config, variables, tile=32, overlap=16, bucket=32)
    assert restorer.is_tiled(image)
    tiled = restorer.restore([image])[0]
    whole = model_output(config, variables, image)
    np.testing.assert_allclose(tiled, whole, atol=1e-5)


def test_ignn_tiled_and_one_tile_against_whole_image(ignn):
    """IGNN x2, son computed by the model from each tile. One tile covering the image gives
    the whole-image output (same computation). On an LR image 3x3 tiles large the graph
    searches within each tile only, so outputs differ near seams. Stated tolerance: the
    difference is ≥ 25 dB below the output's own variance (measured 32.7 dB; 34.3 dB with
    48-px tiles, 39.4 dB with 64-px tiles; the output shifted by 4 px scores 7.7 dB)."""
    config, variables = ignn
    image = photo(80, 96)
    whole = model_output(config, variables, image)
    one_tile = Restorer(config, variables, tile=96, overlap=16, bucket=8)
    assert not one_tile.is_tiled(image)
    np.testing.assert_allclose(one_tile.restore([image])[0], whole, atol=1e-5)
    tiled = Restorer(config, variables, tile=40, overlap=16, bucket=8)
    assert tiled.is_tiled(image)
    out = tiled.restore([image])[0]
    assert out.shape == whole.shape == (160, 192, 3)
    mse = np.mean((out.astype(np.float64) - whole) ** 2)
    assert 10 * np.log10(whole.var() / mse) >= 25


def test_compilations_for_mixed_sizes_stay_within_the_bound():
    config = dncnn_config(features=2, depth=2)
    variables = init(config)
    rng = np.random.default_rng(0)
    sizes = [tuple(rng.integers(5, 150, 2)) for _ in range(14)] + [(64, 64), (64, 64), (64, 64)]
    images = [photo(int(h), int(w), seed=i) for i, (h, w) in enumerate(sizes)]
    restorer = Restorer(config, variables, tile=64, overlap=16, bucket=32, batch_size=2)
    assert restorer.max_compilations() == 2 * 2 * 2
    outputs = restorer.restore(images)
    outputs += restorer.restore(images[:5])  # a second stream reuses the compilations
    assert [o.shape for o in outputs] == [i.shape for i in images] + [i.shape for i in images[:5]]
    assert 1 < restorer.traces <= restorer.max_compilations()


def test_checkpoint_round_trip(tmp_path):
    config = dncnn_config()
    variables = init(config)
    checkpoints.save_for_inference(tmp_path / "run" / "checkpoints", config, variables)
    image = photo(16, 16)
    expected = model_output(config, variables, image)
    for directory in (tmp_path / "run" / "checkpoints", tmp_path / "run"):  # or a workdir
        restored = Restorer.from_checkpoint(directory, bucket=1).restore([image])[0]
        np.testing.assert_allclose(restored, expected, atol=1e-6)


def test_checkpoint_errors(tmp_path):
    with pytest.raises(CheckpointError, match="not found"):
        load_checkpoint(tmp_path / "missing")
    (tmp_path / "empty").mkdir()
    with pytest.raises(CheckpointError, match="no checkpoint"):
        load_checkpoint(tmp_path / "empty")
    corrupt = tmp_path / "corrupt" / "0"
    corrupt.mkdir(parents=True)
    (corrupt / "garbage").write_text("not a checkpoint")
    with pytest.raises(CheckpointError):
        load_checkpoint(tmp_path / "corrupt")


def test_input_errors():
    config = dncnn_config(channels=1)
    restorer = Restorer(config, init(config))
    with pytest.raises(InputError, match="3 channels; the denoise model takes 1"):
        restorer.restore([np.zeros((8, 8, 3), np.uint8)])
    with pytest.raises(InputError, match="dtype"):
        restorer.restore([np.zeros((8, 8), np.int32)])
    with pytest.raises(InputError, match="multiple of bucket"):
        Restorer(config, init(config), tile=40, bucket=32)
    demosaic = dncnn_config(channels=3, task="demosaic")
    with pytest.raises(InputError, match="Bayer"):
        Restorer(demosaic, init(demosaic), self_ensemble=True)
