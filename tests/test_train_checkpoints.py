"""Training checkpoints: keep last N + best, resume from the newest readable step, corrupt or
foreign checkpoints are reported, and inference can read what training wrote."""
import errno
import os
import pathlib
import subprocess
import sys
import types

import ml_collections
import numpy as np
import pytest

from jaxrestore import checkpoints
from jaxrestore.checkpoints import CheckpointError, TrainCheckpoints
from jaxrestore.errors import DiskFull


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


def _save(directory, steps, keep=10, psnr=None, confirm=True):
    with TrainCheckpoints(directory, keep) as manager:
        for step in steps:
            if confirm:
                manager.confirm(step - 1)
            manager.save(step, _state(step), _config(), (psnr or {}).get(step))
        manager.wait_until_finished()


def _steps(directory) -> list[int]:
    return sorted(int(p.name) for p in pathlib.Path(directory).iterdir() if p.name.isdigit())


def _corrupt(step_dir: pathlib.Path):
    for path in (step_dir / "state").rglob("*"):
        if path.is_file():
            path.write_bytes(b"\x00garbage")


def test_keeps_last_n_confirmed_the_newest_and_best(tmp_path):
    psnr = {2: 30.0, 4: 25.0, 6: 26.0}  # step 2 is best, then never beaten
    _save(tmp_path, range(1, 8), keep=2, psnr=psnr)
    assert _steps(tmp_path) == [2, 5, 6, 7]  # best, 2 confirmed, the unconfirmed newest


def test_best_survives_a_restart(tmp_path):
    """The validation PSNR is stored with the step: a new process still knows step 2 is best."""
    _save(tmp_path, [1, 2, 3], keep=1, psnr={2: 30.0, 3: 20.0})
    _save(tmp_path, [4, 5, 6], keep=1, psnr={5: 25.0})
    assert _steps(tmp_path) == [2, 5, 6]
    with TrainCheckpoints(tmp_path, 1) as manager:
        assert manager.best_step() == 2 and manager.score(2) == 30.0


def test_unconfirmed_steps_are_not_pruned(tmp_path):
    """Without confirmation (a run that may have diverged) nothing older is deleted."""
    _save(tmp_path, [1, 2, 3], keep=1, confirm=False)
    assert _steps(tmp_path) == [1, 2, 3]


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
    _, variables, step = checkpoints.load_for_inference(tmp_path)
    assert step == 2
    np.testing.assert_array_equal(variables["params"]["w"], np.full((2, 3), 2.5))


def test_all_corrupt_is_a_clear_error(tmp_path):
    _save(tmp_path, [1])
    _corrupt(tmp_path / "1")
    with TrainCheckpoints(tmp_path, 3, log=lambda line: None) as manager:
        with pytest.raises(CheckpointError, match="no usable checkpoint"):
            manager.restore_latest(_state(0), _config())


def test_other_model_is_a_clear_error(tmp_path):
    _save(tmp_path, [1])
    with TrainCheckpoints(tmp_path, 3) as manager:
        with pytest.raises(CheckpointError, match="different model config"):
            manager.restore_latest(_state(0), _config(n_feats=64))


def test_a_run_stored_with_old_field_names_resumes_under_the_new(tmp_path):
    """A checkpoint written before IGNN's `k`, `patch_size` and DnCNN's `features` were renamed
    `top_k`, `patch`, `n_feats`: the run resumes, inference reads the new names, and a value
    that differs is still another run."""
    with TrainCheckpoints(tmp_path, 3) as manager:
        manager.save(1, _state(1), _config(k=5, patch_size=3, features=8), None)
        manager.wait_until_finished()
    config, _, _ = checkpoints.load_for_inference(tmp_path)
    assert config.model.to_dict() == _config(top_k=5, patch=3, n_feats=8).model.to_dict()
    with TrainCheckpoints(tmp_path, 3) as manager:
        assert manager.restore_latest(_state(0), _config(top_k=5, patch=3, n_feats=8))[0] == 1
        with pytest.raises(CheckpointError, match="different model config"):
            manager.restore_latest(_state(0), _config(top_k=4, patch=3, n_feats=8))


def test_inference_reads_a_training_checkpoint(tmp_path):
    _save(tmp_path, [3])
    config, variables, _ = checkpoints.load_for_inference(tmp_path)
    assert config.model.name == "tiny" and list(config.task.sigma) == [5.0, 50.0]
    np.testing.assert_array_equal(variables["params"]["w"], np.full((2, 3), 3.0))
    np.testing.assert_array_equal(variables["constants"]["shift"], np.full((3,), -3.0))


def test_inference_falls_back_from_an_unreadable_newest_step(tmp_path):
    """As training does: one warning line, the previous step's weights, nothing moved; and in a
    fresh process no orbax 'Event loop is closed' tracebacks on stderr afterwards."""
    _save(tmp_path, [1, 2])
    _corrupt(tmp_path / "2")
    lines = []
    _, variables, step = checkpoints.load_for_inference(tmp_path, log=lines.append)
    assert step == 1 and len(lines) == 1 and "step 2" in lines[0] and "unreadable" in lines[0]
    np.testing.assert_array_equal(variables["params"]["w"], np.full((2, 3), 1.0))
    assert _steps(tmp_path) == [1, 2]
    script = ("import time\nfrom jaxrestore import checkpoints\n"
              f"checkpoints.load_for_inference({str(tmp_path)!r})\ntime.sleep(1)\n")
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]
    assert "Traceback" not in result.stderr
    assert [line for line in result.stderr.splitlines() if line.strip()] == [
        line for line in result.stderr.splitlines() if line.startswith("warning: checkpoint step 2")]
    assert len(result.stderr.strip().splitlines()) == 1


def test_non_finite_parameters_are_set_aside_on_resume(tmp_path):
    """A step with NaN weights (e.g. saved by a run that diverged) is moved to _diverged/, not
    deleted, and the previous step is resumed; inference skips it too."""
    _save(tmp_path, [1])
    with TrainCheckpoints(tmp_path, 3) as manager:
        bad = _state(2)
        bad["params"]["w"][0, 0] = np.nan
        manager.save(2, bad, _config())
        manager.wait_until_finished()
    _, _, step = checkpoints.load_for_inference(tmp_path, log=lambda line: None)
    assert step == 1
    lines = []
    with TrainCheckpoints(tmp_path, 3, log=lines.append) as manager:
        step, _ = manager.restore_latest(_state(0), _config())
    assert step == 1 and any("non-finite" in line for line in lines)
    assert (tmp_path.with_name(tmp_path.name + "_diverged") / "2").is_dir()


def test_orbax_noise_is_silenced_only_while_checkpoints_are_open(tmp_path, monkeypatch):
    """Late 'Event loop is closed' callbacks are dropped inside, everything else passes to the
    hook in place before, which is back afterwards (the process's hook is not replaced)."""
    seen = []
    monkeypatch.setattr(sys, "unraisablehook", seen.append)
    closed = types.SimpleNamespace(exc_type=RuntimeError,
                                   exc_value=RuntimeError("Event loop is closed"))
    other = types.SimpleNamespace(exc_type=ValueError, exc_value=ValueError("other"))
    with TrainCheckpoints(tmp_path, 3):
        sys.unraisablehook(closed)
        sys.unraisablehook(other)
    assert seen == [other] and sys.unraisablehook == seen.append
    _save(tmp_path, [1])
    checkpoints.load_for_inference(tmp_path)
    assert sys.unraisablehook == seen.append


def test_a_full_disk_while_saving_is_one_error_and_keeps_the_earlier_steps(tmp_path,
                                                                           monkeypatch):
    """The asynchronous save's failure reaches the caller as DiskFull, also after retention
    has read scores (orbax's reads wait for the save and would raise its error themselves);
    the half-written step is removed, step 1 stays."""
    from orbax.checkpoint._src.handlers import json_checkpoint_handler

    _save(tmp_path, [1], psnr={1: 30.0})

    async def no_space(self, item, directory):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    with TrainCheckpoints(tmp_path, 3) as manager:
        monkeypatch.setattr(json_checkpoint_handler.JsonCheckpointHandler, "_save_fn", no_space)
        manager.save(2, _state(2), _config())  # returns while orbax writes; retention runs
        assert manager.best_step() == 1
        with pytest.raises(DiskFull) as error:
            manager.wait_until_finished()
    assert str(error.value) == (f"no space left on device while saving step 2 in {tmp_path}; "
                                "newest complete checkpoint: step 1")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["1"]


def test_a_damaged_step_is_named_by_our_error_alone(tmp_path):
    """orbax warns about a damaged step's missing metadata on the absl logger (a real `eval
    score` printed two such lines before its own); the reader's one line says it instead."""
    import logging
    step = tmp_path / "damaged" / "0"
    step.mkdir(parents=True)
    (step / "junk").write_text("junk")
    records = []
    handler = logging.Handler()
    handler.emit = records.append
    absl_logger = logging.getLogger("absl")
    absl_logger.addHandler(handler)
    try:
        with pytest.raises(CheckpointError, match="step 0 is unreadable"):
            checkpoints.load_for_inference(tmp_path / "damaged")
    finally:
        absl_logger.removeHandler(handler)
    assert [record.getMessage() for record in records] == []
