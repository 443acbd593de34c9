"""train_and_evaluate end to end on a tiny model: one short run per task, NaN stop, and
IGNN-tiny's training step on a real SR batch."""
import json
import math
import pathlib

import jax
import numpy as np
import pytest
import skimage.data
from PIL import Image

import train_tiny_model
from configs.common import base_config
from jaxrestore import checkpoints
from jaxrestore.train.loop import LossNotFinite, train_and_evaluate


@pytest.fixture(scope="module")
def image_folders(tmp_path_factory):
    """Small train/val folders (crops of scikit-image photos) so runs take seconds."""
    root = tmp_path_factory.mktemp("images")
    photo = skimage.data.astronaut()
    (root / "train").mkdir()
    (root / "val").mkdir()
    Image.fromarray(photo[100:164, 150:214]).save(root / "train" / "a.png")
    Image.fromarray(photo[300:364, 200:264]).save(root / "train" / "b.png")
    Image.fromarray(photo[200:240, 250:290]).save(root / "val" / "v.png")
    return root


def tiny_config(folders, task: str, steps: int = 2):
    """A config for the test model 'tiny' on the small folders."""
    train_tiny_model.register()
    config = base_config()
    config.model.name = "tiny"
    config.model.channels = 3
    config.model.scale = 2 if task == "sr" else 1
    config.task.name = task
    config.data.source = "folder"
    config.data.train_path = str(folders / "train")
    config.data.val_path = str(folders / "val")
    config.data.patch_size = 16
    config.data.batch_size = 2
    config.data.num_workers = 1
    config.train.learning_rate = 1e-3
    config.train.steps = steps
    config.train.log_every = 1
    config.train.eval_every = steps
    config.train.checkpoint_every = 1
    return config


@pytest.mark.parametrize("task", ["sr", "denoise", "jpeg", "demosaic"])
def test_one_task_end_to_end(image_folders, tmp_path, task, capsys):
    config = tiny_config(image_folders, task)
    result = train_and_evaluate(config, tmp_path)
    assert math.isfinite(result["mean"]) and math.isfinite(result["baseline_mean"])
    lines = [json.loads(line) for line in (tmp_path / "metrics.jsonl").read_text().splitlines()]
    train_steps = [line["step"] for line in lines if "train/loss" in line]
    assert train_steps == [1, 2]
    assert all(math.isfinite(line["train/loss"]) for line in lines if "train/loss" in line)
    assert [line["val/psnr"] for line in lines if "val/psnr" in line] == [result["mean"]]
    assert list((tmp_path / "tensorboard").glob("events.out.tfevents.*"))
    saved_config, variables = checkpoints.load_for_inference(tmp_path / "checkpoints")
    assert saved_config.task.name == task and saved_config.train.steps == 2
    assert set(variables) == {"params", "constants"}
    out = capsys.readouterr().out
    assert "model PSNR" in out and "mean" in out


def test_nan_loss_stops_and_keeps_last_checkpoint(image_folders, tmp_path):
    config = tiny_config(image_folders, "denoise", steps=5)
    config.train.learning_rate = 1e38  # the first update overflows the weights
    with pytest.raises(LossNotFinite, match="at step 2") as error:
        train_and_evaluate(config, tmp_path)
    assert "\n" not in str(error.value)
    assert sorted(p.name for p in (tmp_path / "checkpoints").iterdir() if p.name.isdigit()) == ["1"]
    _, variables = checkpoints.load_for_inference(tmp_path / "checkpoints")
    assert all(np.isfinite(x).all() for x in jax.tree.leaves(variables))


@pytest.mark.slow
def test_ignn_tiny_step_on_an_sr_batch(image_folders):
    """IGNN-tiny x2 (with the son image) takes one real training step through the driver."""
    ignn_tiny = pytest.importorskip("configs.ignn_tiny_x2")
    from jaxrestore.data.pipeline import TrainData
    from jaxrestore.models import build_model
    from jaxrestore.train import losses, optim, parallel, state, step
    from jaxrestore.train.loop import example_batch

    config = ignn_tiny.get_config()
    config.data.source, config.data.train_path = "folder", str(image_folders / "train")
    config.data.patch_size, config.data.batch_size = 24, 1
    module = build_model(config.model)
    optimizer = optim.make_optimizer(config.train)
    initial = state.create_train_state(module, optimizer, example_batch(config), 0)
    driver = parallel.make_driver("shard_map", step.make_train_step(
        module, config.model.pixel_range, losses.l1, optimizer))
    with TrainData(config) as data:
        batch = data.batch(0)
    assert set(batch) == {"input", "target", "son"}
    new, metrics = driver.step(driver.put_state(initial), driver.put_batch(batch))
    new = driver.get_state(new)
    assert math.isfinite(metrics["loss"]) and int(new.step) == 1
    assert metrics["grad_norm"] > 0
    changed = [not np.array_equal(a, b) for a, b in
               zip(jax.tree.leaves(new.params), jax.tree.leaves(initial.params))]
    assert sum(changed) > len(changed) // 2  # (Adam moves a leaf unless its grad is << eps)
    assert all(np.array_equal(a, b) for a, b in
               zip(jax.tree.leaves(new.frozen), jax.tree.leaves(initial.frozen)))
