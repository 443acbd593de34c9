"""Kill a training process with SIGKILL after a checkpoint, restart it: the loss trajectory
equals an uninterrupted run's; and two processes on loopback (jax.distributed, gloo CPU
collectives) train together to equal parameters, equal to one process on the whole batch."""
import json
import os
import pathlib
import signal
import socket
import subprocess
import sys

import numpy as np
import pytest

TESTS = pathlib.Path(__file__).resolve().parent
REPO = TESTS.parent

# argv: workdir, kill_at_step (0 = never), coordinator port (0 = single process), process id
SCRIPT = r"""
import json, os, signal, sys, time
sys.path[:0] = [sys.argv[5], sys.argv[6]]
port, pid = int(sys.argv[3]), int(sys.argv[4])
import jax
if port:
    jax.distributed.initialize(f"127.0.0.1:{port}", 2, pid)
import numpy as np
from test_train_loop import tiny_config
from jaxrestore.checkpoints import load_for_inference
from jaxrestore.train import reporting
from jaxrestore.train.loop import train_and_evaluate
import pathlib
config = tiny_config(pathlib.Path(sys.argv[7]), "denoise", steps=7)
config.train.checkpoint_every, config.train.eval_every, config.data.batch_size = 3, 0, 4
kill_at = int(sys.argv[2])
write = reporting.MetricWriter.write
def write_then_maybe_die(self, step, scalars, prefix="train"):
    write(self, step, scalars, prefix)
    if step == kill_at:  # once the step-3 checkpoint is on disk (saving is asynchronous)
        done = pathlib.Path(sys.argv[1]) / "checkpoints" / "3" / "_CHECKPOINT_METADATA"
        deadline = time.time() + 60
        while not done.exists() and time.time() < deadline:
            time.sleep(0.05)
        os.kill(os.getpid(), signal.SIGKILL)
reporting.MetricWriter.write = write_then_maybe_die
train_and_evaluate(config, sys.argv[1])
_, variables, _ = load_for_inference(pathlib.Path(sys.argv[1]) / "checkpoints")
leaves = [np.asarray(x).tolist() for x in jax.tree.leaves(variables["params"])]
print("PARAMS " + json.dumps(leaves))
"""


def _run(workdir, folders, kill_at=0, port=0, pid=0, wait=True):
    flags = [f for f in os.environ.get("XLA_FLAGS", "").split() if "device_count" not in f]
    env = {**os.environ, "JAX_PLATFORMS": "cpu", "XLA_FLAGS": " ".join(flags)}  # one device
    args = [sys.executable, "-c", SCRIPT, str(workdir), str(kill_at), str(port), str(pid),
            str(TESTS), str(REPO), str(folders)]
    process = subprocess.Popen(args, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               text=True, cwd=REPO)
    return process.communicate(timeout=240) + (process.returncode,) if wait else process


def _params(stdout) -> list:
    return json.loads(stdout.split("PARAMS ", 1)[1])


def _losses(workdir) -> list[tuple[int, float]]:
    """(step, loss) of every logged line, in file order."""
    lines = (pathlib.Path(workdir) / "metrics.jsonl").read_text().splitlines()
    return [(r["step"], r["train/loss"]) for r in map(json.loads, lines) if "train/loss" in r]


@pytest.fixture(scope="module")
def folders(tmp_path_factory):
    from test_train_loop import image_folders
    return image_folders.__wrapped__(tmp_path_factory)


@pytest.fixture(scope="module")
def straight(folders, tmp_path_factory):
    """An uninterrupted single-process run: (workdir, final params)."""
    workdir = tmp_path_factory.mktemp("straight")
    out, err, code = _run(workdir, folders)
    assert code == 0, err[-2000:]
    return workdir, _params(out)


def test_sigkill_then_resume_matches_uninterrupted(folders, straight, tmp_path):
    killed = tmp_path / "killed"
    out, err, code = _run(killed, folders, kill_at=5)
    assert code == -signal.SIGKILL, err[-2000:]
    assert [step for step, _ in _losses(killed)] == [1, 2, 3, 4, 5]
    out, err, code = _run(killed, folders)
    assert code == 0, err[-2000:]
    assert "resumed from step 3" in out + err
    expected = dict(_losses(straight[0]))
    assert list(expected) == list(range(1, 8))
    resumed = _losses(killed)
    # steps 4 and 5 ran twice (before the kill and after the resume from 3): the killed run's
    # lines of them were dropped at the resume, so each step is logged once, in order
    assert [step for step, _ in resumed] == list(range(1, 8))
    for step, loss in resumed:
        assert loss == pytest.approx(expected[step], abs=1e-6), step


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_two_processes_on_loopback(folders, straight, tmp_path):
    port = _free_port()
    processes = [_run(tmp_path / "multi", folders, port=port, pid=i, wait=False) for i in (0, 1)]
    results = [p.communicate(timeout=240) + (p.returncode,) for p in processes]
    for out, err, code in results:
        assert code == 0, err[-3000:]
    params = [_params(out) for out, _, _ in results]
    assert params[0] == params[1]
    for a, b in zip(params[0], straight[1]):
        np.testing.assert_allclose(np.asarray(a), np.asarray(b), atol=1e-5)
