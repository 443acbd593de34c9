"""The packaged configs: every name the docs use loads, model defaults come from the classes
(so every model takes --config.model.dtype=bfloat16, trained here through the CLI), and the
committed checkpoints' stored configs still match the configs they were trained from."""
import json
import logging
import pathlib
import re
import sys
import warnings

import pytest
import skimage.data
from absl import flags
from absl import logging as absl_logging
from PIL import Image

from jaxrestore import checkpoints, configs, models, tasks
from jaxrestore.cli import train as train_cli
from jaxrestore.config import check_config
from jaxrestore.errors import ConfigError
from jaxrestore.models.dncnn import DnCNN
from jaxrestore.models.magn import MAGN

REPO = pathlib.Path(__file__).resolve().parents[1]
NAME = re.compile(r"\b(?:default|(?:ignn|magn|dncnn)_(?:tiny_)?(?:x\d|denoise_\w+|jpeg_q\d+|"
                  r"demosaic))\b")


def test_every_config_name_in_the_docs_loads():
    texts = [REPO / "README.md", REPO / "pretrained" / "README.md", *REPO.glob("docs/*.md"),
             *REPO.glob("experiments/*.py"), *REPO.glob("bench/*.py")]
    used = {name for path in texts for name in NAME.findall(path.read_text())}
    assert {"default", "ignn_tiny_x2", "magn_tiny_denoise_gray_s25"} <= used
    assert used <= set(configs.names())
    for name in ("default", "ignn_x3", "magn_denoise_color_blind", "dncnn_tiny_denoise_gray_s25"):
        assert configs.load(name).model.name == name.split("_")[0].replace("default", "ignn")


def test_model_defaults_live_in_the_classes():
    magn, dncnn = configs.load("magn_denoise_gray_s25"), configs.load("dncnn_denoise_gray_s25")
    assert {k: v for k, v in magn.model.items() if k not in ("name", "pixel_range")} == {
        f: getattr(MAGN(), f) for f in magn.model if f not in ("name", "pixel_range")}
    assert dncnn.model.n_feats == DnCNN().n_feats and dncnn.model.depth == DnCNN().depth
    assert configs.load("magn_tiny_jpeg_q10").model.top_k == 4  # what the tiny config sets


def test_the_scale_is_the_tasks():
    config = configs.load("ignn_tiny_x2")
    assert "scale" not in config.model
    config.task.scale, config.data.patch_size = 3, 72
    assert check_config(config) == tasks.SR(scale=3)
    assert models.signature(config.model, 3).scale == 3
    stored = {**config.model.to_dict(), "scale": 2}  # a checkpoint stored before, or converted
    with pytest.raises(ConfigError, match="task.scale=3 but the model upscales x2"):
        models.signature(stored, 3)
    assert models.stored_model_config(stored, config.model) == config.model.to_dict()
    with pytest.raises(ConfigError, match="keeps the image size"):
        models.signature(configs.load("dncnn_tiny_denoise_gray_s25").model, 2)


@pytest.mark.parametrize("config_name, checkpoint", [
    ("magn_tiny_denoise_gray_s25", "magn_tiny_s25"), ("dncnn_tiny_denoise_gray_s25",
                                                      "dncnn_tiny_s25")])
def test_committed_checkpoints_match_their_configs(config_name, checkpoint):
    """Their stored configs predate model.dtype (and DnCNN's, the rename of `features` to
    `n_feats`); read back, they equal today's config."""
    stored = json.loads(next((REPO / "pretrained" / checkpoint).glob("*/config/metadata"))
                        .read_text())
    model = configs.load(config_name).model
    assert "dtype" not in stored["model"]
    assert models.stored_model_config(stored["model"], model) == model.to_dict()


@pytest.mark.parametrize("config_name, old_names", [
    ("ignn_tiny_x2", {"top_k": "k", "patch": "patch_size"}),
    ("dncnn_tiny_denoise_gray_s25", {"n_feats": "features"})])
def test_a_stored_config_with_old_field_names_reads_as_the_new(config_name, old_names):
    """One spelling per field (n_feats, patch, top_k, as MAGN's); a checkpoint config stored
    with the old ones is today's config."""
    model = configs.load(config_name).model
    stored = {old_names.get(field, field): value for field, value in model.items()}
    assert set(old_names.values()) <= set(stored) and not set(old_names) & set(stored)
    assert models.stored_model_config(stored, model) == model.to_dict()
    assert {"n_feats", "patch", "top_k"} <= set(configs.load("magn_tiny_jpeg_q10").model)


def forget_config_overrides():
    """Drops the --config.* flags an earlier parse defined (from another config's fields)."""
    flags.FLAGS.unparse_flags()
    for flag in [f for f in flags.FLAGS if f.startswith("config.")]:
        delattr(flags.FLAGS, flag)


@pytest.fixture
def run_cli(monkeypatch, capsys, tmp_path):
    """Runs `jaxrestore train ARGS` through its entry point in this process; returns the exit
    code and stderr."""
    folder = tmp_path / "photos"
    folder.mkdir()
    Image.fromarray(skimage.data.astronaut()[100:156, 150:206]).save(folder / "a.png")

    def run(*args):
        argv = ["train.py", *map(str, args), "--config.data.source=folder",
                f"--config.data.train_path={folder}", f"--config.data.val_path={folder}",
                "--config.data.batch_size=2", "--config.data.num_workers=0",
                "--config.train.steps=2", "--config.train.eval_every=2",
                "--config.train.checkpoint_every=2"]
        monkeypatch.setattr(sys, "argv", argv)  # ml_collections reads overrides from sys.argv
        forget_config_overrides()
        with pytest.raises(SystemExit) as exit_, warnings.catch_warnings():
            warnings.filterwarnings("ignore", "the load_module", DeprecationWarning)
            train_cli.run(argv)
        return exit_.value.code, capsys.readouterr().err

    yield run
    forget_config_overrides()
    # app.run installed absl's stderr log handler on the root logger: later tests' warnings
    # (orbax's) would reach their stderr
    logging.root.removeHandler(absl_logging.get_absl_handler())


@pytest.mark.parametrize("name, patch", [("dncnn_tiny_denoise_gray_s25", 16),
                                         ("magn_tiny_denoise_gray_s25", 16),
                                         ("ignn_tiny_x2", 48)])
def test_bfloat16_trains_from_the_cli(run_cli, tmp_path, name, patch):
    code, err = run_cli("--config", name, "--workdir", tmp_path / "w",
                        "--config.model.dtype=bfloat16", f"--config.data.patch_size={patch}")
    assert code in (0, None), err
    config, _, step = checkpoints.load_for_inference(tmp_path / "w")
    assert (config.model.dtype, step) == ("bfloat16", 2)
    losses = [json.loads(line).get("train/loss")
              for line in (tmp_path / "w" / "metrics.jsonl").read_text().splitlines()]
    assert all(loss is None or loss == loss for loss in losses)  # finite or absent, not NaN
