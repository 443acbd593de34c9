"""Training checkpoints: keep last N + best, resume from the newest readable step, corrupt or
foreign checkpoints are reported, and inference can read what training wrote."""
import pathlib

import ml_collections
import numpy as np
import pytest

from jaxrestore import checkpoints
from jaxrestore.checkpoints import CheckpointError, TrainCheckpoints


def _config(**model):
    config = ml_collections.ConfigDict()
    config.model = ml_collections.ConfigDict({"name": "tiny", "pixel_range": 1.0, **model})
    config.task = ml_collections.ConfigDict({"name": "sr", "scale": 2, "sigma": (5.0, 50.0)})
    config.train = ml_collections.ConfigDict({"milestones": (1, 2)})
    return config


def _state(value: float) -> dict:
    return {"params": {"w": np.full((2, 3), value, np.float32)},
            "frozen": {"constants": {"shift": np.full((3,), -value, np.float32)}},
            "opt_state": {"mu": {"w": np.zeros((2, 3), np.float32)}},
            "step": np.int32(value), "rng": np.zeros((2,), np.uint32)}


def _save(directory, steps, keep=10, metrics=None):
    with TrainCheckpoints(directory, keep) as manager:
        for step in steps:
            manager.save(step, _state(step), _config(),
                         metrics=None if metrics is None else metrics.get(step))
        manager.wait_until_finished()


def _steps(directory) -> list[int]:
    return sorted(int(p.name) for p in pathlib.Path(directory).iterdir() if p.name.isdigit())


def _corrupt(step_dir: pathlib.Path):
    for path in (step_dir / "state").rglob("*"):
        if path.is_file():
            path.write_bytes(b"\x00garbage")


def test_keeps_last_n_and_best(tmp_path):
    psnr = {2: 30.0, 4: 25.0, 6: 26.0}  # step 2 is best, then never beaten
    _save(tmp_path, range(1, 8), keep=2,
          metrics={s: {checkpoints.BEST_METRIC: v} for s, v in psnr.items()})
    assert _steps(tmp_path) == [2, 6, 7]


def test_resume_restores_newest(tmp_path):
    _save(tmp_path, [1, 2])
    lines = []
    with TrainCheckpoints(tmp_path, 3, log=lines.append) as manager:
        step, state = manager.restore_latest(_state(0), _config())
    assert step == 2 and lines == []
    np.testing.assert_array_equal(state["params"]["w"], np.full((2, 3), 2.0))
    np.testing.assert_array_equal(state["frozen"]["constants"]["shift"], np.full((3,), -2.0))


def test_empty_directory_means_fresh_start(tmp_path):
    with TrainCheckpoints(tmp_path / "new", 3) as manager:
        assert manager.restore_latest(_state(0), _config()) is None


def test_corrupt_latest_falls_back_with_a_warning(tmp_path):
    _save(tmp_path, [1, 2])
    _corrupt(tmp_path / "2")
    lines = []
    with TrainCheckpoints(tmp_path, 3, log=lines.append) as manager:
        step, state = manager.restore_latest(_state(0), _config())
        assert step == 1
        np.testing.assert_array_equal(state["params"]["w"], np.full((2, 3), 1.0))
        # training goes on and writes step 2 again
        manager.save(2, _state(2.5), _config())
        manager.wait_until_finished()
    assert any("step 2" in line and "unreadable" in line for line in lines)
    assert all("\n" not in line for line in lines)
    assert (tmp_path.with_name(tmp_path.name + "_unreadable") / "2").is_dir()
    _, variables = checkpoints.load_for_inference(tmp_path)
    np.testing.assert_array_equal(variables["params"]["w"], np.full((2, 3), 2.5))


def test_all_corrupt_is_a_clear_error(tmp_path):
    _save(tmp_path, [1])
    _corrupt(tmp_path / "1")
    with TrainCheckpoints(tmp_path, 3, log=lambda line: None) as manager:
        with pytest.raises(CheckpointError, match="no readable checkpoint"):
            manager.restore_latest(_state(0), _config())


def test_other_model_is_a_clear_error(tmp_path):
    _save(tmp_path, [1])
    with TrainCheckpoints(tmp_path, 3) as manager:
        with pytest.raises(CheckpointError, match="different model config"):
            manager.restore_latest(_state(0), _config(n_feats=64))


def test_inference_reads_a_training_checkpoint(tmp_path):
    _save(tmp_path, [3])
    config, variables = checkpoints.load_for_inference(tmp_path)
    assert config.model.name == "tiny" and list(config.task.sigma) == [5.0, 50.0]
    np.testing.assert_array_equal(variables["params"]["w"], np.full((2, 3), 3.0))
    np.testing.assert_array_equal(variables["constants"]["shift"], np.full((3,), -3.0))
