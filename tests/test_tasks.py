"""Tasks are values: a fifth task is one class (Poisson noise, defined here) that the data
pipeline, training and validation take as they take the packaged ones; the packaged tasks'
parsing and levels."""
import dataclasses
import math
import pathlib
from typing import ClassVar

import numpy as np
import pytest
import skimage.data
from PIL import Image

from jaxrestore import tasks
from jaxrestore.cli import eval as eval_cli
from jaxrestore.configs.common import base_config
from jaxrestore.data.pipeline import TrainData
from jaxrestore.errors import ConfigError
from jaxrestore.train.loop import train_and_evaluate


@dataclasses.dataclass(frozen=True)
class Poisson(tasks.TaskDefaults):
    """Shot noise: a pixel of value v (0..1) becomes Poisson(v * peak) / peak."""

    channels: int = 1
    peak: float = 20.0
    name: ClassVar[str] = "poisson"
    baseline_name: ClassVar[str] = "noisy input"

    def noisy(self, clean: np.ndarray, seed) -> np.ndarray:
        counts = np.random.default_rng(seed).poisson(clean / 255.0 * self.peak)
        return (counts / self.peak).astype(np.float32)

    def training_input(self, clean, rng, given=None):
        return self.noisy(clean, int(rng.integers(2**63)))

    def test_input(self, image):
        return self.noisy(image, 0)

    def describe(self) -> str:
        return f"poisson peak {self.peak:g}; PSNR/SSIM on grey"


@pytest.fixture(scope="module")
def gray_folders(tmp_path_factory):
    root = tmp_path_factory.mktemp("gray")
    photo = skimage.data.camera()
    for name, (y, x) in {"train/a": (100, 150), "train/b": (300, 200), "val/v": (200, 250)}.items():
        (root / name).parent.mkdir(exist_ok=True)
        Image.fromarray(photo[y:y + 40, x:x + 40]).save(root / f"{name}.png")
    return root


def poisson_config(folders):
    config = base_config()
    config.task.name = "poisson"
    config.task.channels = 1
    config.task.peak = 20.0
    config.model.name = "dncnn"
    config.model.update(dict(channels=1, n_feats=8, depth=3, batch_norm=False))
    config.data.update(dict(source="folder", train_path=str(folders / "train"),
                            val_path=str(folders / "val"), patch_size=16, batch_size=4,
                            num_workers=0))
    config.train.update(dict(steps=3, log_every=1, eval_every=3, checkpoint_every=3,
                             learning_rate=1e-3))
    return config


def test_a_task_defined_in_one_class_trains(gray_folders, tmp_path):
    config = poisson_config(gray_folders)
    with pytest.raises(ConfigError, match="unknown task 'poisson'"):
        train_and_evaluate(config, tmp_path / "unknown")  # not a packaged task
    task = tasks.task_from_config(config.task, known={"poisson": Poisson})
    assert task == Poisson(channels=1, peak=20.0)

    batch = TrainData(config, task).batch(0)
    noise, clean = batch["input"] - batch["target"], batch["target"]
    # Poisson(v * peak) / peak has mean v and variance v / peak (the distribution's own law)
    assert abs(noise.mean()) < 0.01
    assert noise.var() == pytest.approx(clean.mean() / 20.0, rel=0.15)
    assert np.allclose(batch["input"] * 20.0, np.round(batch["input"] * 20.0), atol=1e-5)

    result = train_and_evaluate(config, tmp_path / "run", task=task)
    val = np.asarray(Image.open(gray_folders / "val" / "v.png"), np.float64)[..., None] / 255.0
    noisy = task.noisy(val * 255.0, 0)
    expected = 10 * np.log10(1.0 / np.mean((np.clip(noisy, 0, 1) - val) ** 2))
    assert result["baseline_mean"] == pytest.approx(expected, abs=0.05)
    assert math.isfinite(result["mean"])


def test_packaged_tasks_parse_from_configs():
    config = base_config()
    config.task.name, config.task.scale = "sr", 3
    assert tasks.task_from_config(config.task) == tasks.SR(scale=3, channels=3)
    del config.task.sigma
    config.task.update(dict(name="denoise", channels=1, sigma=[0.0, 55.0]))
    blind = tasks.task_from_config(config.task)
    assert blind.sigma == (0.0, 55.0) and blind.at_level(hardest=True).sigma == 55.0
    assert (blind.scale, blind.in_channels, blind.input_size(48)) == (1, 1, 48)
    assert tasks.SR(scale=4).input_size(96) == 24 and tasks.Demosaic().alignment == 2
    assert eval_cli.TASK_NAMES == tuple(tasks.TASKS)


def test_version_is_the_packages():
    import tomllib

    import jaxrestore

    pyproject = tomllib.loads((pathlib.Path(__file__).parents[1] / "pyproject.toml").read_text())
    assert jaxrestore.__version__ == pyproject["project"]["version"]
