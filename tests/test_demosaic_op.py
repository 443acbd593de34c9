"""The JAX bilinear demosaic (MAGN's demosaicing residual base) against the protocol's NumPy
baseline, and MAGN's residual_base wiring."""
import jax
import jax.numpy as jnp
import numpy as np

from jaxrestore.data.degradations import bayer_mosaic, bilinear_demosaic, mosaic_to_masked
from jaxrestore.models.magn import MAGN
from jaxrestore.ops.demosaic import bilinear_demosaic_masked


def test_matches_the_protocols_bilinear_baseline():
    rng = np.random.default_rng(0)
    rgb = rng.integers(0, 256, (2, 10, 7, 3), dtype=np.uint8)   # odd width: border columns
    masked = np.stack([mosaic_to_masked(bayer_mosaic(im)) for im in rgb]) / 255.0
    expected = np.stack([bilinear_demosaic(bayer_mosaic(im)) for im in rgb]) / 255.0
    got = jax.jit(bilinear_demosaic_masked)(jnp.asarray(masked, jnp.float32))
    np.testing.assert_allclose(np.asarray(got), expected, rtol=0, atol=1e-6)


def test_magn_bilinear_residual_base_is_the_output_when_the_tail_is_zero():
    """With the tail conv zeroed, F(x) = 0: the output is the residual base itself."""
    rgb = np.random.default_rng(1).integers(0, 256, (12, 12, 3), dtype=np.uint8)
    x = jnp.asarray(mosaic_to_masked(bayer_mosaic(rgb))[None] / 255.0, jnp.float32)
    model = MAGN(in_channels=3, out_channels=3, n_feats=8, n_resblocks=0, n_graph_blocks=0,
                 residual_base="bilinear")
    params = model.init(jax.random.PRNGKey(0), x)
    params = jax.tree_util.tree_map_with_path(
        lambda path, v: jnp.zeros_like(v) if "tail" in jax.tree_util.keystr(path) else v, params)
    np.testing.assert_allclose(np.asarray(model.apply(params, x))[0],
                               bilinear_demosaic(bayer_mosaic(rgb)) / 255.0, atol=1e-6)
