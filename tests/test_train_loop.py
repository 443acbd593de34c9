"""train_and_evaluate end to end on a tiny model: one short run per task, steps dispatched
without per-step host transfers, and nothing lost: the best step survives restarts and
divergence, a diverged state is never the newest, a sane rerun resumes."""
import json
import math
import pathlib

import jax
import numpy as np
import pytest
import skimage.data
from PIL import Image

import train_tiny_model
from jaxrestore import checkpoints
from jaxrestore.configs.common import base_config
from jaxrestore.errors import TrainingDiverged
from jaxrestore.train import loop
from jaxrestore.train.loop import train_and_evaluate


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


def _steps(workdir, suffix="") -> list[int]:
    folder = pathlib.Path(workdir) / f"checkpoints{suffix}"
    return sorted(int(p.name) for p in folder.iterdir() if p.name.isdigit())


def _val_psnr(workdir) -> dict:
    lines = (pathlib.Path(workdir) / "metrics.jsonl").read_text().splitlines()
    return {line["step"]: line["val/psnr"] for line in map(json.loads, lines)
            if "val/psnr" in line}


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
    saved_config, variables, step = checkpoints.load_for_inference(tmp_path / "checkpoints")
    assert saved_config.task.name == task and saved_config.train.steps == 2 and step == 2
    assert set(variables) == {"params", "constants"}
    out = capsys.readouterr().out
    assert "model PSNR" in out and "mean" in out


def test_denoise_validation_agrees_with_an_independent_scoring(image_folders, tmp_path):
    """The loop's validation numbers, recomputed outside the loop: the noisy input by the
    convention (clean + seed-0 standard normal × σ/255), the saved model applied by Restorer,
    PSNR by scikit-image on outputs rounded to uint8."""
    from skimage.metrics import peak_signal_noise_ratio
    from jaxrestore.inference import Restorer
    result = train_and_evaluate(tiny_config(image_folders, "denoise"), tmp_path)
    clean = np.asarray(Image.open(image_folders / "val" / "v.png"))
    noisy = clean / 255.0 + np.random.default_rng(0).standard_normal(clean.shape) * 25 / 255

    def psnr(image):
        return peak_signal_noise_ratio(clean, np.round(np.clip(image, 0, 1) * 255).astype(
            np.uint8), data_range=255)

    config, variables, _ = checkpoints.load_for_inference(tmp_path / "checkpoints")
    restored = Restorer(config, variables, bucket=1).restore([noisy.astype(np.float32)])[0]
    assert result["baseline_mean"] == pytest.approx(psnr(noisy), abs=0.01)
    assert result["mean"] == pytest.approx(psnr(restored), abs=0.01)
    assert abs(result["mean"] - result["baseline_mean"]) > 0.01  # the model changed the input


def test_steps_dispatch_without_per_step_host_transfers(image_folders, tmp_path, monkeypatch):
    """No implicit device→host transfer anywhere in the run (the guard raises on one), and the
    step results are fetched once per logging period, not once per step."""
    fetches = []

    def counting_fetch(tree):
        fetches.append(len(tree))
        return jax.device_get(tree)

    monkeypatch.setattr(loop, "fetch", counting_fetch)
    config = tiny_config(image_folders, "denoise", steps=6)
    config.train.log_every, config.train.checkpoint_every, config.train.eval_every = 3, 0, 0
    with jax.transfer_guard_device_to_host("disallow"):
        train_and_evaluate(config, tmp_path)
    assert fetches == [3, 3]  # steps 1-3 and 4-6, each period in one fetch
    assert _steps(tmp_path) == [6]


def test_best_step_survives_restarts_and_divergence(image_folders, tmp_path):
    """keep_checkpoints=1 keeps the newest confirmed step (one the run went on from), the newest
    and the best by validation PSNR, also when the best was saved by an earlier process; a
    later divergence sets the unconfirmed step aside and names the confirmed one."""
    config = tiny_config(image_folders, "denoise", steps=4)
    config.train.eval_every, config.train.keep_checkpoints = 2, 1
    config.train.learning_rate = 3e-3
    train_and_evaluate(config, tmp_path)
    first = _val_psnr(tmp_path)
    best = max(first, key=first.get)
    assert _steps(tmp_path) == sorted({best, 3, 4})

    config.train.steps, config.train.learning_rate = 8, 5.0  # finite but ruinous steps
    train_and_evaluate(config, tmp_path)
    scores = _val_psnr(tmp_path)
    assert scores[8] < scores[best] - 1 and max(scores, key=scores.get) == best
    assert _steps(tmp_path) == [best, 7, 8]

    config.train.steps, config.train.learning_rate = 12, 1e38  # overflows: loss becomes NaN
    with pytest.raises(TrainingDiverged, match="step 8") as error:
        train_and_evaluate(config, tmp_path)
    assert "\n" not in str(error.value) and "newest checkpoint is step 8" in str(error.value)
    assert _steps(tmp_path) == [best, 8]
    assert _steps(tmp_path, "_diverged") == [9]  # saved, then found to precede a NaN loss
    _, variables, step = checkpoints.load_for_inference(tmp_path)
    assert step == 8 and all(np.isfinite(x).all() for x in jax.tree.leaves(variables))

    config.train.learning_rate = 1e-3  # a sane rerun resumes from step 8 and finishes
    result = train_and_evaluate(config, tmp_path)
    assert math.isfinite(result["mean"]) and _steps(tmp_path)[-1] == 12
    assert best in _steps(tmp_path)


def test_divergence_before_any_good_checkpoint(image_folders, tmp_path):
    """The first update overflows: nothing good was saved, so nothing is left as newest and the
    message says a rerun starts afresh; the diverged step is kept aside, not deleted."""
    config = tiny_config(image_folders, "denoise", steps=5)
    config.train.learning_rate = 1e38
    with pytest.raises(TrainingDiverged, match="at step 2") as error:
        train_and_evaluate(config, tmp_path)
    assert "starts afresh" in str(error.value) and "\n" not in str(error.value)
    assert _steps(tmp_path) == [] and _steps(tmp_path, "_diverged") == [1]
