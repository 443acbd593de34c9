"""Restorer: equals the network, x8 ensemble, device-batched tiling, size buckets, the colour
rule, checkpoints.

Oracles: a float64 NumPy forward pass of DnCNN written here from its definition (not the
library's model code), hand-built symmetric kernels (an equivariant network), the plain
host-side tiling path `ops.tiling.tiled_apply`, MATLAB-bicubic son images computed on the
whole image, and the bound stated in jaxrestore/inference.py.
"""
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxrestore import checkpoints
from jaxrestore.configs.common import base_config
from jaxrestore.errors import CheckpointError, InputError
from jaxrestore.inference import Restorer, load_checkpoint
from jaxrestore.models import build_model
from jaxrestore.models.ignn import son_image
from jaxrestore.ops.tiling import tiled_apply


def dncnn_config(channels=3, n_feats=4, depth=3, task="denoise"):
    config = base_config()
    config.model.name = "dncnn"
    config.model.pixel_range = 1.0
    config.model.channels = channels
    config.model.n_feats = n_feats
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
    variables = jax.jit(build_model(config.model).init)(key, x)
    if config.model.name == "dncnn":  # x4: outputs that differ clearly from the input
        variables = {"params": jax.tree.map(lambda p: 4 * p, variables["params"])}
    return variables


def numpy_dncnn(variables, image):
    """The oracle: DnCNN's definition in float64 NumPy, x + convs (zero padding 1, ReLU between),
    clamped to [0, 1]. image: (H, W, C) in [0, 1]."""
    params = variables["params"]
    x = np.asarray(image, np.float64)
    h, w, _ = x.shape
    y = x
    for i in range(len(params)):
        kernel = np.asarray(params[f"conv_{i}"]["kernel"], np.float64)
        padded = np.pad(y, ((1, 1), (1, 1), (0, 0)))
        y = sum(padded[dy:dy + h, dx:dx + w] @ kernel[dy, dx]
                for dy in range(3) for dx in range(3)) + np.asarray(params[f"conv_{i}"]["bias"])
        if i < len(params) - 1:
            y = np.maximum(y, 0)
    return np.clip(x + y, 0, 1)


F32 = 5e-5  # float32 network against the float64 oracle (weights x4: sums of ~100 terms)


def photo(h, w, channels=3, seed=0):
    """A smooth random image in [0, 1] with some texture."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:h, 0:w] / 7.0
    base = 0.5 + 0.25 * np.sin(yy[..., None] + xx[..., None] * np.arange(1, channels + 1))
    return (base + 0.1 * rng.standard_normal((h, w, channels))).clip(0, 1).astype(np.float32)


@pytest.fixture(scope="module")
def ignn():
    """A tiny x2 IGNN with its graph (pixel embedding): (config, variables). Weights are
    scaled x5 from the init so the output varies with the input (at init scale IGNN's output
    is nearly the constant mean colour, which would make any tiling look right)."""
    config = ignn_config()
    variables = dict(init(config, size=32))
    variables["params"] = jax.tree.map(lambda p: 5 * p, variables["params"])
    return config, variables


def ignn_output(config, variables, image):
    """IGNN on one whole image through `module.apply` in its own 0..255 range."""
    module = build_model(config.model)
    y = jax.jit(module.apply)(variables, jnp.asarray(image)[None] * 255.0) / 255.0
    return np.clip(np.asarray(y[0]), 0.0, 1.0)


def symmetrise(variables):
    """Averages every 3x3 kernel over the 8 dihedral transforms: an equivariant network."""
    def sym(leaf):
        if leaf.ndim != 4:
            return leaf
        copies = [jnp.rot90(leaf, k, axes=(0, 1)) for k in range(4)]
        copies += [jnp.flip(c, axis=0) for c in copies]
        return sum(copies) / 8
    return jax.tree.map(sym, variables)


def test_restore_equals_the_network_at_exact_size():
    config = dncnn_config()
    variables = init(config)
    image = photo(21, 34)
    restored = Restorer(config, variables, bucket=1).restore([image])[0]
    expected = numpy_dncnn(variables, image)
    assert np.abs(expected - image).max() > 0.1  # the network really changes the image
    np.testing.assert_allclose(restored, expected, atol=F32)


def test_uint8_and_gray_inputs():
    config = dncnn_config(channels=1)
    variables = init(config)
    image = (photo(20, 24, 1)[..., 0] * 255).round().astype(np.uint8)  # HxW uint8
    out = Restorer(config, variables, bucket=1).restore([image])[0]
    expected = numpy_dncnn(variables, image[..., None] / 255.0)
    assert out.shape == (20, 24, 1) and out.dtype == np.float32
    np.testing.assert_allclose(out, expected, atol=F32)


def test_colour_rule_gray_into_a_colour_model():
    """Repeated into RGB, restored, returned as the luma of the output: grey in, grey out."""
    config = dncnn_config(channels=3)
    variables = init(config)
    gray = photo(18, 22, 1)
    out = Restorer(config, variables, bucket=1).restore([gray])[0]
    rgb = numpy_dncnn(variables, np.repeat(gray, 3, axis=-1))
    luma = rgb @ np.array([0.298936021293775, 0.587043074451121, 0.114020904255103])
    assert out.shape == (18, 22, 1)
    np.testing.assert_allclose(out[..., 0], np.clip(luma, 0, 1), atol=F32)


def test_colour_rule_colour_into_a_gray_model():
    """The luma goes through the model; the chroma (full-range YCbCr) is the input's."""
    config = dncnn_config(channels=1)
    variables = init(config)
    rgb = photo(18, 22, 3)
    out = Restorer(config, variables, bucket=1).restore([rgb])[0]
    assert out.shape == (18, 22, 3)
    weights = np.array([0.298936021293775, 0.587043074451121, 0.114020904255103])
    luma = rgb.astype(np.float64) @ weights
    restored_luma = numpy_dncnn(variables, luma[..., None])[..., 0]
    unclipped = rgb + (restored_luma - luma)[..., None]
    np.testing.assert_allclose(out, np.clip(unclipped, 0, 1), atol=F32)
    inside = (unclipped > 0.01).all(-1) & (unclipped < 0.99).all(-1)
    # where nothing was clipped: same chroma (channel differences) and the model's luma
    np.testing.assert_allclose((out[..., 0] - out[..., 1])[inside],
                               (rgb[..., 0] - rgb[..., 1])[inside], atol=F32)
    np.testing.assert_allclose((out.astype(np.float64) @ weights)[inside],
                               restored_luma[inside], atol=F32)


def test_batch_array_in_array_out_equals_singles():
    config = dncnn_config()
    variables = init(config)
    batch = np.stack([photo(16, 20, seed=s) for s in range(3)])
    restorer = Restorer(config, variables, bucket=1, batch_size=2)
    out = restorer.restore(batch)
    assert isinstance(out, np.ndarray) and out.shape == batch.shape
    for image, restored in zip(batch, out):
        np.testing.assert_allclose(restored, numpy_dncnn(variables, image), atol=F32)


def test_self_ensemble_of_equivariant_model_equals_plain_model():
    config = dncnn_config()
    variables = symmetrise(init(config))
    image = photo(20, 28)  # not square: the transposed copies have another shape
    plain = Restorer(config, variables).restore([image])[0]
    ensemble = Restorer(config, variables, self_ensemble=True).restore([image])[0]
    np.testing.assert_allclose(ensemble, plain, atol=1e-5)
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
    whole = numpy_dncnn(variables, image)
    assert out.shape == whole.shape
    np.testing.assert_allclose(out[:-3, :-3], whole[:-3, :-3], atol=F32)


def test_device_batched_tiles_match_whole_image_and_the_host_path():
    """A local model (3 convs: receptive radius 3) tiled with 16 px overlap: tiling discards
    the outer overlap/4 = 4 px of each inner tile edge, so the output is the whole-image one up
    to float rounding; and tiles batched on the device (two images of one size sharing the
    batches; 2 × 48 tiles in batches of 5, the last one a batch of 1) equal the
    one-tile-at-a-time host path."""
    config = dncnn_config(depth=3)
    variables = init(config)
    images = [photo(100, 130, seed=s) for s in (0, 1)]
    restorer = Restorer(config, variables, tile=32, overlap=16, bucket=32, tile_batch=5)
    assert restorer.is_tiled(images[0])
    tiled = restorer.restore(images)
    for image, out in zip(images, tiled):
        np.testing.assert_allclose(out, numpy_dncnn(variables, image), atol=F32)
        one_at_a_time = Restorer(config, variables, bucket=32)
        host = tiled_apply(lambda t: np.stack(one_at_a_time.restore(list(t))), image[None],
                           32, 16)[0]
        np.testing.assert_allclose(out, host, atol=1e-6)
    # one compilation per (tile size, batch): the tile batch 5, and 1 for the last tile
    assert restorer.traces == 2


def test_a_tiles_son_is_the_whole_images_son_inside(ignn):
    """IGNN makes its son image from each LR tile. At a tile offset that is a multiple of the
    graph scale, the tile's son equals the whole image's son except within 2 son pixels of
    the tile's inner borders, where the MATLAB x1/2 kernel (4 LR pixels each side) reaches
    outside the tile."""
    image = jnp.asarray(photo(40, 48))[None]
    whole = np.asarray(son_image(image, 2, 1.0))[0]
    tile = np.asarray(son_image(image[:, 8:32, 12:36], 2, 1.0))[0]  # son rows 4..15, cols 6..17
    np.testing.assert_allclose(tile[2:-2, 2:-2], whole[6:14, 8:16], atol=1e-6)
    assert np.abs(tile[0] - whole[4, 6:18]).max() > 1e-3  # the border differs


def test_ignn_tiled_and_one_tile_against_whole_image(ignn):
    """IGNN x2, son computed by the model from each tile. One tile covering the image gives
    the whole-image output (same computation). On an LR image 3x3 tiles large the graph
    searches within each tile only, so outputs differ near seams. Stated tolerance: the
    difference is ≥ 25 dB below the output's own variance (measured 32.7 dB; 34.3 dB with
    48-px tiles, 39.4 dB with 64-px tiles; the output shifted by 4 px scores 7.7 dB)."""
    config, variables = ignn
    image = photo(80, 96)
    whole = ignn_output(config, variables, image)
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
    config = dncnn_config(n_feats=2, depth=2)
    variables = init(config)
    rng = np.random.default_rng(0)
    sizes = [tuple(rng.integers(8, 150, 2)) for _ in range(14)] + [(64, 64), (64, 64), (64, 64)]
    images = [photo(int(h), int(w), seed=i) for i, (h, w) in enumerate(sizes)]
    restorer = Restorer(config, variables, tile=64, overlap=16, bucket=32, batch_size=2,
                        tile_batch=2)
    # (64/32)² bucket shapes × (⌈log2 2⌉ whole-image + ⌈log2 2⌉ tile batch sizes + 2)
    assert restorer.max_compilations() == 2 * 2 * 4
    outputs = restorer.restore(images)
    outputs += restorer.restore(images[:5])  # a second stream reuses the compilations
    assert [o.shape for o in outputs] == [i.shape for i in images] + [i.shape for i in images[:5]]
    assert 1 < restorer.traces <= restorer.max_compilations()


def test_demosaic_takes_the_mosaic_or_its_masked_form():
    config = dncnn_config(channels=3, task="demosaic")
    variables = init(config)
    rgb = photo(16, 20)
    masked = rgb.copy()
    masked[0::2, 0::2, 1:] = 0
    masked[1::2, 1::2, :2] = 0
    masked[0::2, 1::2, ::2] = 0
    masked[1::2, 0::2, ::2] = 0
    mosaic = masked.sum(-1, keepdims=True)
    restorer = Restorer(config, variables, bucket=1)
    from_mosaic, from_masked = restorer.restore([mosaic, masked])
    np.testing.assert_allclose(from_mosaic, numpy_dncnn(variables, masked), atol=F32)
    np.testing.assert_array_equal(from_mosaic, from_masked)


def test_checkpoint_round_trip(tmp_path):
    config = dncnn_config()
    variables = init(config)
    checkpoints.save_for_inference(tmp_path / "run" / "checkpoints", config, variables)
    image = photo(16, 16)
    expected = numpy_dncnn(variables, image)
    for directory in (tmp_path / "run" / "checkpoints", tmp_path / "run"):  # or a workdir
        restored = Restorer.from_checkpoint(directory, bucket=1).restore([image])[0]
        np.testing.assert_allclose(restored, expected, atol=F32)


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
        load_checkpoint(tmp_path / "corrupt", log=lambda line: None)
    config = dncnn_config()
    config.model.n_resblocks = 3  # a field DnCNN does not have: the model cannot be built
    checkpoints.save_for_inference(tmp_path / "foreign", config, init(dncnn_config()))
    with pytest.raises(CheckpointError, match="unusable config.*n_resblocks"):
        load_checkpoint(tmp_path / "foreign")


def test_input_errors(ignn):
    config = dncnn_config(channels=1)
    restorer = Restorer(config, init(config))
    with pytest.raises(InputError, match="HxWx3 image"):
        restorer.restore([np.zeros((8, 8, 4), np.uint8)])
    with pytest.raises(InputError, match="dtype"):
        restorer.restore([np.zeros((8, 8), np.int32)])
    with pytest.raises(InputError, match="multiple of bucket"):
        Restorer(config, init(config), tile=40, bucket=32)
    demosaic = dncnn_config(channels=3, task="demosaic")
    with pytest.raises(InputError, match="Bayer"):
        Restorer(demosaic, init(demosaic), self_ensemble=True)
    with pytest.raises(InputError, match="too small"):
        Restorer(*ignn, bucket=1).restore([photo(10, 30)])


def test_ignn_module_refuses_gray_input_clearly(ignn):
    config, variables = ignn
    with pytest.raises(ValueError, match="IGNN takes RGB images"):
        build_model(config.model).apply(variables, jnp.zeros((1, 16, 16, 1)))


def test_conv_algorithm_is_resolved_once_and_recorded():
    """A model's 'auto' convolution setting is decided when the Restorer is made, for the
    platforms it names (this process: CPU), and recorded; the caller's config is not changed."""
    from jaxrestore.models.ignn import IGNN

    config = ignn_config()
    assert config.model.conv_algorithm == "auto"
    for platforms, want in [(None, "winograd_wide"), (("cpu", "cuda"), "direct")]:
        restorer = Restorer(config, {}, platforms=platforms)
        assert (restorer.conv_algorithm, restorer.config.model.conv_algorithm,
                restorer._module.conv_algorithm) == (want, want, want)
    assert config.model.conv_algorithm == "auto"
    assert Restorer(dncnn_config(), {}).conv_algorithm == "direct"
    assert IGNN().conv_algorithm == "winograd_wide"  # a module built directly: at build


def test_tiled_restore_holds_no_image_sized_copy_beyond_its_output():
    """Host memory of a tiled restore (NumPy's allocations, traced by tracemalloc) is the
    output plus a band-sized constant; the caller holds the uint8 input, converted to floats
    tile by tile. Before streaming, five image-sized float arrays were alive at once."""
    import tracemalloc

    config = dncnn_config(n_feats=2, depth=2)
    restorer = Restorer(config, init(config), tile=64, overlap=16, bucket=32)
    image = np.round(photo(512, 512) * 255).astype(np.uint8)
    restorer.restore([image[:64, :64]])  # compiles
    tracemalloc.start()
    try:
        output = restorer.restore([image])[0]
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert output.shape == image.shape and peak < 1.6 * output.nbytes, peak / output.nbytes


def test_images_below_the_minimum_size_are_refused():
    """1x1 and 2x3 inputs came back with colour shifts of 20 levels: refused below 8x8."""
    config = dncnn_config(n_feats=2, depth=2)
    restorer = Restorer(config, init(config))
    for shape in ((1, 1, 3), (2, 3, 3), (7, 40, 3)):
        with pytest.raises(InputError, match=f"a {shape[0]}x{shape[1]} image is below the "
                                             "smallest size restored, 8x8 pixels"):
            restorer.restore([np.zeros(shape, np.uint8)])
    assert restorer.restore([np.zeros((8, 8, 3), np.uint8)])[0].shape == (8, 8, 3)


def test_default_tile_batch_is_one_tile_on_cpu():
    """On CPU a batch of tiles measured no faster than one at a time (bench/restore.py)."""
    config = dncnn_config(n_feats=2, depth=2)
    assert jax.default_backend() == "cpu"
    assert Restorer(config, init(config), tile=64).tile_batch == 1
    assert Restorer(config, init(config), tile=64, tile_batch=4).tile_batch == 4


def test_dispatching_tile_batches_ahead_gives_the_same_output():
    """The accelerators' path (the next batch dispatched before the current one is waited for)
    blends the same tiles into the same pixels as the CPU's (one batch at a time)."""
    config = dncnn_config(n_feats=2, depth=2)
    restorer = Restorer(config, init(config), tile=32, overlap=8, bucket=32, tile_batch=2)
    images = [photo(80, 70), photo(80, 70, seed=1)]  # 2 x 3 x 3 tiles in batches of 2
    assert restorer.dispatch_ahead == 0
    expected = restorer.restore(images)
    for ahead in (1, 2):
        restorer.dispatch_ahead = ahead
        for output, reference in zip(restorer.restore(images), expected):
            np.testing.assert_array_equal(output, reference)
