"""Training in real operation, with real processes where it takes them: one run's life on one
work directory (a second trainer refused while it runs, SIGTERM saves the step under way, the
printed command resumes it, then the disk fills while a checkpoint is written); the lock's
stale-holder rules; what SIGINT does; `train --help` into a closed pipe."""
import errno
import json
import os
import pathlib
import shlex
import signal
import subprocess
import sys
import time
import types

import pytest

from jaxrestore.train import loop, workdir_lock
from jaxrestore.train.signals import StopRequests, TrainingStopped
from jaxrestore.train.workdir_lock import WorkdirBusy, WorkdirLock

TESTS = pathlib.Path(__file__).resolve().parent
REPO = TESTS.parent

# argv: mode, then train.py's arguments. Modes: "hold" pauses after logging step 4 until
# WORKDIR/go exists; "second" fails loudly if the run's checkpoints or metrics are touched;
# "full" makes the disk fill while step 6 is saved (and for TensorBoard's final flush).
SCRIPT = r"""
import errno, os, pathlib, sys, time
mode, argv = sys.argv[1], sys.argv[2:]
from jaxrestore.train import reporting
workdir = pathlib.Path(argv[argv.index("--workdir") + 1])
if mode == "hold":
    write = reporting.MetricWriter.write
    def write_then_pause(self, step, scalars, prefix="train"):
        write(self, step, scalars, prefix)
        deadline = time.time() + 120
        while step == 4 and not (workdir / "go").exists() and time.time() < deadline:
            time.sleep(0.05)
    reporting.MetricWriter.write = write_then_pause
if mode == "second":
    from jaxrestore import checkpoints
    def touched(*args, **kwargs):
        raise AssertionError("the second trainer touched the run")
    checkpoints.TrainCheckpoints.__init__ = reporting.MetricWriter.__init__ = touched
if mode == "full":
    import tensorboardX.record_writer
    from orbax.checkpoint._src.handlers import json_checkpoint_handler
    handler, full = json_checkpoint_handler.JsonCheckpointHandler, []
    save, flush = handler._save_fn, tensorboardX.record_writer.RecordWriter.flush
    async def save_or_fail(self, item, directory):
        if f"{os.sep}6.orbax-checkpoint-tmp" in str(directory):
            full.append(True)
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return await save(self, item, directory)
    def flush_or_fail(self):
        if full:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return flush(self)
    handler._save_fn, tensorboardX.record_writer.RecordWriter.flush = save_or_fail, flush_or_fail
from jaxrestore.cli import train
train.run(argv)
"""

CONFIG = """
import pathlib, sys
sys.path.insert(0, {tests!r})
def get_config():
    from test_train_loop import tiny_config
    config = tiny_config(pathlib.Path({folders!r}), "denoise", steps=8)
    config.train.checkpoint_every = config.train.eval_every = 3
    config.train.keep_checkpoints = 1
    return config
"""


def _start(mode, args, **kwargs):
    flags = [f for f in os.environ.get("XLA_FLAGS", "").split() if "device_count" not in f]
    env = {**os.environ, "JAX_PLATFORMS": "cpu", "XLA_FLAGS": " ".join(flags),
           "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")])}
    return subprocess.Popen([sys.executable, "-c", SCRIPT, mode, *map(str, args)], env=env,
                            cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            **kwargs)


def _finish(process, timeout=240):
    out, err = process.communicate(timeout=timeout)
    # the progress bar redraws with carriage returns; keep what is not the bar
    lines = [part for line in err.splitlines() for part in line.split("\r")]
    return types.SimpleNamespace(code=process.returncode, out=out, err=err,
                                 lines=[line for line in lines
                                        if line.strip() and not line.startswith("train:")])


def _logged_steps(workdir) -> list[int]:
    path = workdir / "metrics.jsonl"
    lines = path.read_text().splitlines() if path.exists() else []
    return [r["step"] for r in map(json.loads, lines) if "train/loss" in r]


def _steps(workdir) -> list[str]:
    return sorted(p.name for p in (workdir / "checkpoints").iterdir())


def _validation(workdir, step) -> dict:
    return json.loads((workdir / "checkpoints" / str(step) / "validation" / "metadata").read_text())


@pytest.fixture(scope="module")
def folders(tmp_path_factory):
    from test_train_loop import image_folders
    return image_folders.__wrapped__(tmp_path_factory)


def test_one_runs_life_on_its_work_directory(folders, tmp_path):
    config, workdir = tmp_path / "tiny.py", tmp_path / "run"
    config.write_text(CONFIG.format(tests=str(TESTS), folders=str(folders)))
    args = ["train.py", "--config", config, "--workdir", workdir]
    first = _start("hold", args)
    deadline = time.time() + 200
    while 4 not in _logged_steps(workdir) and first.poll() is None and time.time() < deadline:
        time.sleep(0.1)
    assert first.poll() is None, _finish(first).err[-3000:]

    # a second trainer on the same directory: one line naming the holder, nothing touched
    second = _finish(_start("second", args))
    assert second.code == 1 and len(second.lines) == 1, second.err[-3000:]
    assert second.lines[0].startswith("train.py: error: work directory")
    assert f"in use (held by PID {first.pid} on " in second.lines[0]

    # SIGTERM while step 4 is logged: step 5 is finished and saved like any checkpoint, its
    # validation not measured
    first.send_signal(signal.SIGTERM)
    (workdir / "go").touch()
    stopped = _finish(first)
    assert stopped.code == 143, stopped.err[-3000:]
    assert len(stopped.lines) == 1 and "Traceback" not in stopped.err, stopped.err[-3000:]
    line = stopped.lines[0]
    assert line.startswith(f"train.py: SIGTERM received: saved step 5 in {workdir}/checkpoints")
    resume = shlex.split(line.split("; resume with: ")[1])
    assert resume == ["python", "train.py", "--config", str(config), "--workdir", str(workdir)]
    assert _steps(workdir) == ["3", "5"]  # the best (validated) step 3 is kept beside it
    assert _validation(workdir, 5) == {"val_psnr": None}
    assert _validation(workdir, 3)["val_psnr"] > 0
    assert not (workdir / "train.lock").exists()

    # the printed command resumes; the disk then fills while step 6 is written
    full = _finish(_start("full", resume[1:]))
    assert "resumed from step 5" in full.out + full.err
    assert full.code == 1, full.err[-3000:]
    assert full.lines == [f"train.py: error: no space left on device while saving step 6 in "
                          f"{workdir}/checkpoints; newest complete checkpoint: step 5"], full.err
    assert "Traceback" not in full.err and "Exception ignored" not in full.err
    assert _steps(workdir) == ["3", "5"]  # the half-written step 6 is gone, the others intact
    assert not (workdir / "train.lock").exists()


def _lock_record(workdir, host, pid, age_seconds=0.0):
    path = workdir / workdir_lock.LOCK_FILE
    path.write_text(json.dumps({"host": host, "pid": pid, "started": "2026-01-01T00:00:00"}))
    then = time.time() - age_seconds
    os.utime(path, (then, then))
    return path


def test_a_live_holder_is_named_and_its_lock_left_alone(tmp_path):
    sleeper = subprocess.Popen(["sleep", "60"])
    try:
        path = _lock_record(tmp_path, workdir_lock.socket.gethostname(), sleeper.pid)
        before = path.read_text()
        with pytest.raises(WorkdirBusy, match=f"held by PID {sleeper.pid} on "):
            with WorkdirLock(tmp_path):
                pass
        assert path.read_text() == before
    finally:
        sleeper.kill()
        sleeper.wait()


@pytest.mark.parametrize("reaped", [True, False])  # False: a zombie, as under a lax init
def test_a_dead_holder_on_this_host_is_taken_over_with_one_line(tmp_path, reaped):
    gone = subprocess.Popen(["true"])
    if reaped:
        gone.wait()
    else:
        os.waitid(os.P_PID, gone.pid, os.WEXITED | os.WNOWAIT)  # exited, still a zombie
    path = _lock_record(tmp_path, workdir_lock.socket.gethostname(), gone.pid)
    lines = []
    with WorkdirLock(tmp_path, log=lines.append):
        assert json.loads(path.read_text())["pid"] == os.getpid()
    gone.wait()
    assert len(lines) == 1 and f"PID {gone.pid}" in lines[0] and "is not running" in lines[0]
    assert not path.exists() and os.listdir(tmp_path) == []


def test_another_hosts_holder_is_stale_once_its_heartbeat_stops(tmp_path):
    limit = workdir_lock.STALE_AFTER_SECONDS
    _lock_record(tmp_path, "elsewhere", 1, age_seconds=limit - 60)
    with pytest.raises(WorkdirBusy, match="held by PID 1 on elsewhere"):
        with WorkdirLock(tmp_path):
            pass
    _lock_record(tmp_path, "elsewhere", 1, age_seconds=limit + 60)
    lines = []
    with WorkdirLock(tmp_path, log=lines.append):
        pass
    assert len(lines) == 1 and "heartbeat stopped 11 minutes ago" in lines[0]


def test_the_exclusive_create_fallback_and_a_lock_taken_over_meanwhile(tmp_path, monkeypatch):
    def no_hard_links(source, target):
        raise OSError(errno.EPERM, "hard links not supported")

    monkeypatch.setattr(workdir_lock.os, "link", no_hard_links)
    path = _lock_record(tmp_path, "elsewhere", 1)
    with pytest.raises(WorkdirBusy, match="held by PID 1 on elsewhere"):
        with WorkdirLock(tmp_path):
            pass
    path.unlink()
    with WorkdirLock(tmp_path):
        assert json.loads(path.read_text())["pid"] == os.getpid()
        _lock_record(tmp_path, "elsewhere", 1)  # taken over meanwhile (say, while frozen)
    assert json.loads(path.read_text())["host"] == "elsewhere"  # not removed by the old holder


def test_the_first_signal_asks_for_a_stop_and_leaves_the_second_to_the_system():
    previous = signal.getsignal(signal.SIGINT)
    with StopRequests() as stop:
        assert not stop.reached(1)
        signal.raise_signal(signal.SIGINT)  # handled in this (main) thread, before returning
        assert stop.signum == signal.SIGINT and stop.reached(2)
        # a second SIGTERM or SIGINT would now end the process at once, saving nothing more
        assert signal.getsignal(signal.SIGINT) is signal.SIG_DFL
        assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL
    assert signal.getsignal(signal.SIGINT) is previous


def test_a_signal_the_process_ignores_stays_ignored():  # as `nohup` and background jobs ask
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        with StopRequests():
            assert signal.getsignal(signal.SIGINT) is signal.SIG_IGN
    finally:
        signal.signal(signal.SIGINT, previous)


@pytest.mark.filterwarnings("ignore:the load_module:DeprecationWarning")  # ml_collections
def test_sigint_exits_130_with_the_resume_command(monkeypatch, capsys):
    from absl import flags

    from jaxrestore.cli import train as train_cli

    def stopped(config, workdir):
        raise TrainingStopped(7, signal.SIGINT, pathlib.Path(workdir) / "checkpoints")

    monkeypatch.setattr(loop, "train_and_evaluate", stopped)
    argv = ["jaxrestore train", "--config", "default", "--workdir", "runs/my run"]
    monkeypatch.setattr(sys, "argv", argv)  # ml_collections reads overrides from sys.argv
    flags.FLAGS.unparse_flags()
    try:
        with pytest.raises(SystemExit) as exit_:
            train_cli.run(argv, prog="jaxrestore train")
    finally:
        flags.FLAGS.unparse_flags()
    assert exit_.value.code == 130
    assert capsys.readouterr().err.splitlines() == [
        "jaxrestore train: SIGINT received: saved step 7 in runs/my run/checkpoints; resume "
        "with: jaxrestore train --config default --workdir 'runs/my run'"]


def test_help_into_a_closed_pipe_is_quiet():
    """`jaxrestore train --help | head`: the reader is gone before the help is written."""
    read_end, write_end = os.pipe()
    os.close(read_end)
    try:
        result = subprocess.run([sys.executable, "-m", "jaxrestore.cli.main", "train", "--help"],
                                stdout=write_end, stderr=subprocess.PIPE, text=True, cwd=REPO,
                                timeout=120)
    finally:
        os.close(write_end)
    assert result.returncode == 0 and result.stderr == "", result.stderr[-2000:]


def test_a_signal_before_the_first_step_saves_nothing(folders, tmp_path, monkeypatch):
    """SIGTERM during model setup: no step is run or saved, the lock and the process's own
    signal handlers are given back."""
    from test_train_loop import tiny_config

    build = loop.build_model

    def build_then_signal(model_config, scale):
        signal.raise_signal(signal.SIGTERM)
        return build(model_config, scale)

    monkeypatch.setattr(loop, "build_model", build_then_signal)
    handler = signal.getsignal(signal.SIGTERM)
    with pytest.raises(TrainingStopped, match="SIGTERM received: nothing new to save after step 0"):
        loop.train_and_evaluate(tiny_config(folders, "denoise"), tmp_path)
    assert signal.getsignal(signal.SIGTERM) is handler
    assert sorted(os.listdir(tmp_path)) == ["checkpoints"]
    assert os.listdir(tmp_path / "checkpoints") == []


def test_a_full_disk_under_metrics_jsonl_is_the_given_error(tmp_path):
    from jaxrestore.train.reporting import MetricWriter

    class FullDisk:
        def write(self, *text):
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

        flush = close = write

    writer = MetricWriter(tmp_path, on_disk_full=lambda what: RuntimeError(f"full: {what}"))
    writer._file = FullDisk()
    with pytest.raises(RuntimeError, match=f"full: writing step 3 to {tmp_path}/metrics.jsonl"):
        writer.write(3, {"loss": 1.0})
    writer.close()  # quietly
