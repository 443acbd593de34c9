"""The protocol of record: one degradation and one scoring for training validation and
eval.py, which therefore agree to the bit for every task; degradations against independent
oracles (NumPy's seed-0 draws, Pillow's JPEG, hand-written RGGB sites, MATLAB bicubic)."""
import io

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from PIL import Image

from jaxrestore import evaluate, protocol, tasks
from jaxrestore.configs.common import base_config
from jaxrestore.data.sources import Sample
from jaxrestore.errors import InputError
from jaxrestore.inference import Restorer
from jaxrestore.models import build_model
from jaxrestore.models.ignn import model_config as ignn_model_config
from jaxrestore.ops.imresize import imresize_np
from jaxrestore.train.validate import Validator


def _image(h, w, c, seed=0):
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[:h, :w]
    base = 128 + 70 * np.sin(yy[..., None] / 4 + xx[..., None] / (3 + np.arange(c)))
    return np.clip(base + rng.normal(0, 12, (h, w, c)), 0, 255).astype(np.uint8)


def _config(task, channels, **task_fields):
    config = base_config()
    for field in task_fields:  # a range replaces a number: bypass the type lock
        del config.task[field]
    config.task.update(dict(name=task, channels=channels, **task_fields))
    if task == "sr":
        config.model = ignn_model_config(scale=2, n_resblocks=1, n_feats=4, use_graph=False)
    else:
        config.model.name, config.model.pixel_range = "dncnn", 1.0
        config.model.update(dict(channels=channels, n_feats=4, depth=2, batch_norm=False))
    return config


@pytest.mark.parametrize("task,channels,fields", [
    ("sr", 3, dict(scale=2)),
    ("denoise", 1, dict(sigma=25.0)),
    ("denoise", 3, dict(sigma=(0.0, 55.0))),  # blind: validated and scored at 55
    ("jpeg", 1, dict(quality=10)),
    ("demosaic", 3, {}),
])
def test_validation_equals_eval_for_every_task(task, channels, fields):
    """Training's Validator and eval.py's path (evaluate + Restorer at exact size) give the
    same baseline and model PSNR on the same images, to the last bit."""
    config = _config(task, channels, **fields)
    c = 3 if task == "demosaic" else channels
    variables = jax.jit(build_model(config.model).init)(
        jax.random.key(0, impl="unsafe_rbg"), jnp.zeros((1, 16, 16, c)))
    images = [("x", _image(34, 46, channels)), ("y", _image(40, 30, channels, seed=1))]
    module = build_model(config.model)
    task_ = tasks.task_from_config(config.task).at_level(hardest=True)
    validator = Validator(module, config.model.pixel_range,
                          [Sample(name, image) for name, image in images], task_)
    scores = validator(variables)
    restorer = Restorer(config, variables, bucket=1)
    level = 55.0 if fields.get("sigma") == (0.0, 55.0) else None
    results = evaluate.evaluate(images, tasks.task_from_config(config.task).at_level(level),
                                lambda x: restorer.restore([x])[0])
    for row in results["images"]:
        assert validator.baseline_psnr[row["name"]] == row["baseline"]["psnr"]
        assert scores[row["name"]] == row["model"]["psnr"]


def test_degradations_against_independent_oracles():
    rgb, gray = _image(20, 26, 3), _image(20, 26, 1)
    sr = protocol.degrade(_image(21, 26, 3), tasks.SR(scale=2))
    np.testing.assert_array_equal(sr.target, _image(21, 26, 3)[:20])
    np.testing.assert_array_equal(np.round(sr.input * 255), imresize_np(sr.target, 0.5))
    noisy = protocol.degrade(rgb, tasks.Denoise(channels=3, sigma=15.0))
    draws = np.random.default_rng(0).standard_normal(rgb.shape) * 15.0 / 255
    np.testing.assert_allclose(noisy.input, rgb / 255.0 + draws, atol=1e-6)
    np.testing.assert_array_equal(noisy.baseline, noisy.input)
    jpeg = protocol.degrade(gray, tasks.JPEG(channels=1, quality=20))
    buffer = io.BytesIO()
    Image.fromarray(gray[..., 0], "L").save(buffer, "JPEG", quality=20)
    np.testing.assert_array_equal(jpeg.input[..., 0] * 255, np.asarray(Image.open(buffer)))
    mosaic = protocol.degrade(rgb, tasks.Demosaic())
    for (r, c), channel in {(0, 0): 0, (0, 1): 1, (1, 0): 1, (1, 1): 2}.items():
        sites = mosaic.input[r::2, c::2]
        np.testing.assert_array_equal(sites[..., channel] * 255, rgb[r::2, c::2, channel])
        assert not np.delete(sites, channel, axis=-1).any()


def test_task_levels_and_mistakes():
    config = _config("denoise", 1, sigma=(5.0, 50.0))
    assert tasks.task_from_config(config.task).at_level(hardest=True).sigma == 50.0
    assert tasks.task_from_config(config.task).at_level(15.0).sigma == 15.0
    with pytest.raises(InputError, match="range of denoise levels"):
        tasks.task_from_config(config.task).at_level()
    jpeg = _config("jpeg", 1, quality=(10, 40))
    assert tasks.task_from_config(jpeg.task).at_level(hardest=True).quality == 10
    for bad in (dict(name="sr", scale=1), dict(name="jpeg", quality=0),
                dict(name="demosaic", channels=1), dict(name="denoise", sigma=None)):
        with pytest.raises(InputError):
            tasks.make_task(**bad)
