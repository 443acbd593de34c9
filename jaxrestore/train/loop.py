"""`train_and_evaluate(config, workdir)`: the whole training run, resumable by default.

WORKDIR/checkpoints    orbax steps (state + config JSON + validation PSNR): the newest
                       `train.keep_checkpoints` known-good ones, the newest one (not yet known
                       good) and the best by validation PSNR (jaxrestore.checkpoints); a
                       restart resumes from the newest usable one
WORKDIR/metrics.jsonl  one JSON line per logged step ('train/loss', 'train/seconds_per_step',
                       'val/psnr', ...; at the end 'memory/peak_host_bytes' and, on GPU/TPU,
                       'memory/peak_device_bytes')
WORKDIR/tensorboard    the same scalars as TensorBoard event files

Order of work: the config is checked, the training and validation images are read, and only
then is the work directory created and the model set up, so a mistake costs seconds and leaves
nothing behind.

Dispatch: steps are dispatched without waiting for each other; their metrics stay on the
devices and are fetched every `train.log_every` steps (and before each checkpoint), while host
batches are built by worker threads and copied to the devices ahead of the step that needs
them. Checkpoints are written by orbax from the device arrays; validation runs jitted on one
device.

Operation: process 0 holds WORKDIR/train.lock for the run, so a second trainer on the same
directory stops with one line before touching anything (train.workdir_lock). On SIGTERM or
SIGINT the step under way is finished and saved as a normal checkpoint (validation not
measured) and TrainingStopped is raised (train.signals). A disk that fills while a checkpoint or
metrics.jsonl is written raises DiskFull, naming the newest complete checkpoint.

Divergence: a state is known good once the loss computed from it is finite. When a fetched
loss (or gradient norm) is not finite, training stops with one line: every checkpoint from the
first bad state on is moved to `WORKDIR/checkpoints_diverged/` (never deleted), and the newest
remaining step, which is what a rerun resumes from, is named.
"""
import collections
import contextlib
import functools
import math
import os
import pathlib
import resource
import sys
import tempfile
import time

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np

from jaxrestore.checkpoints import TrainCheckpoints, merge_variables
from jaxrestore.config import check_config
from jaxrestore.data.pipeline import TrainData
from jaxrestore.data.sources import validation_samples
from jaxrestore.errors import TrainingDiverged, UserError
from jaxrestore.models import build_model
from jaxrestore.train.checks import check_train
from jaxrestore.train.losses import get_loss
from jaxrestore.train.optim import learning_rate_schedule, make_optimizer
from jaxrestore.train.parallel import make_driver
from jaxrestore.train.reporting import MetricWriter, Progress
from jaxrestore.train.signals import StopRequests, TrainingStopped
from jaxrestore.train.state import init_train_state, state_from_dict, state_to_dict
from jaxrestore.train.step import make_train_step
from jaxrestore.train.validate import Validator
from jaxrestore.train.workdir_lock import hold_workdir


def example_input(patch_size: int, task) -> jax.Array:
    """Zero model input (1, h, h, C) of one training example of `task` with `patch_size`
    target pixels (for initialisation)."""
    side = task.input_size(patch_size)
    return jnp.zeros((1, side, side, task.in_channels), jnp.float32)


def check_workdir(workdir) -> pathlib.Path:
    """Refuses (one line) a work directory that is a file, lies under a file, or cannot be
    written; creates nothing."""
    workdir = pathlib.Path(workdir)
    if workdir.exists() and not workdir.is_dir():
        raise UserError(f"work directory {workdir} is an existing file")
    existing = workdir
    while not existing.exists():
        existing = existing.parent
    if not existing.is_dir():
        raise UserError(f"cannot create work directory {workdir}: {existing} is a file")
    if not os.access(existing, os.W_OK | os.X_OK):
        raise UserError(f"cannot write to work directory {workdir} ({existing} is read-only)")
    return workdir


def _make_workdir(workdir: pathlib.Path) -> None:
    try:
        workdir.mkdir(parents=True, exist_ok=True)
        # a uniquely named probe: the processes of a multi-host run share the directory
        with tempfile.TemporaryFile(dir=workdir):
            pass
    except OSError as error:
        raise UserError(f"cannot write to work directory {workdir} ({error.strerror})") from None


def fetch(tree):
    """The loop's one way of bringing step results to the host (tests count its calls)."""
    return jax.device_get(tree)


def peak_memory() -> dict:
    """This process's peak resident host memory and, where the backend reports it (GPU, TPU),
    the first local device's peak bytes in use."""
    peaks = {"peak_host_bytes": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024}
    stats = jax.local_devices()[0].memory_stats() or {}
    if "peak_bytes_in_use" in stats:
        peaks["peak_device_bytes"] = stats["peak_bytes_in_use"]
    return peaks


def _due(step: int, every: int, last: int) -> bool:
    return step == last or (every > 0 and step % every == 0)


def _prefetched(host_batches, put, size: int, progress: Progress):
    """Device batches `size` steps ahead of their use: each host batch (time spent waiting for
    it reported to `progress`) is handed to `put` (asynchronous device copies) early."""
    queue = collections.deque()

    def enqueue():
        waiting = time.perf_counter()
        batch = next(host_batches)
        progress.waited(time.perf_counter() - waiting)
        queue.append(put(batch))

    for _ in range(size):
        enqueue()
    while True:
        enqueue()
        yield queue.popleft()


def _first_bad_state(fetched) -> tuple[int, str] | None:
    """(first bad state's step, what happened) from fetched [(step, {'loss', 'grad_norm'})].

    A non-finite loss at step t was computed from state t-1, which is therefore bad; a finite
    loss with a non-finite gradient makes the update, state t, bad.
    """
    for step, metrics in fetched:
        if not math.isfinite(metrics["loss"]):
            return step - 1, f"the loss became {metrics['loss']} at step {step}"
        if not math.isfinite(metrics["grad_norm"]):
            return step, f"the gradient norm became {metrics['grad_norm']} at step {step}"
    return None


def _diverged(checkpoints: TrainCheckpoints, first_bad: int, what: str) -> TrainingDiverged:
    """Sets the checkpoints from `first_bad` on aside; the one-line error naming the resume
    point."""
    moved = checkpoints.set_aside_diverged(first_bad)
    steps = checkpoints.steps()
    aside = (f"; steps {', '.join(map(str, moved))} moved to "
             f"{checkpoints.aside_directory('_diverged')}" if moved else "")
    if not steps:
        return TrainingDiverged(f"{what}; training stopped{aside}. No earlier checkpoint: a rerun "
                                "starts afresh (lower train.learning_rate or set train.grad_clip)")
    newest = steps[-1]
    score = checkpoints.score(newest)
    scored = f", validation PSNR {score:.2f} dB" if score is not None else ""
    return TrainingDiverged(
        f"{what}; training stopped{aside}. The newest checkpoint is step {newest}{scored} in "
        f"{checkpoints.directory}: lower train.learning_rate (or set train.grad_clip) and rerun "
        "to resume from it")


def train_and_evaluate(config: ml_collections.ConfigDict, workdir, task=None) -> dict:
    """Trains `config` in `workdir` (resuming from its newest checkpoint if any) and returns the
    final validation PSNR per image, plus 'mean' and the baseline's mean as 'baseline_mean'.
    `task`: a `jaxrestore.tasks` task object (default: parsed from config.task), e.g. one of
    your own.

    Raises jaxrestore.errors.UserError subclasses (one-line messages) for mistakes the user can
    fix: ConfigError, DataSourceError, CheckpointError (a work directory of another run or with
    no usable checkpoint), WorkdirBusy, DiskFull, TrainingDiverged (see the module doc); and
    TrainingStopped after saving on SIGTERM/SIGINT.
    """
    task = check_config(config, task)
    check_train(config.train)
    workdir = check_workdir(workdir)
    train, is_main = config.train, jax.process_index() == 0
    with contextlib.ExitStack() as stack:
        data = stack.enter_context(TrainData(config, task, jax.process_index(),
                                             jax.process_count()))
        samples = validation_samples(config.data.val_path, task.channels)
        _make_workdir(workdir)
        hold_workdir(workdir, stack, log=lambda line: print(line, file=sys.stderr))
        stop = stack.enter_context(StopRequests())

        module = build_model(config.model, task.scale)
        schedule = learning_rate_schedule(train)
        optimizer = make_optimizer(train, schedule)
        driver = make_driver(train.parallel, make_train_step(
            module, config.model.pixel_range, get_loss(train.loss), optimizer))
        init = functools.partial(init_train_state, module, optimizer,
                                 example_input(config.data.patch_size, task), train.seed)
        validator = Validator(module, config.model.pixel_range, samples,
                              task.at_level(hardest=True))
        checkpoints = stack.enter_context(TrainCheckpoints(
            workdir / "checkpoints", train.keep_checkpoints,
            log=print if is_main else lambda line: None))
        abstract = driver.abstract(init)
        restored = checkpoints.restore_latest(state_to_dict(abstract), config)
        if restored is None:
            start, state = 0, driver.init(init)
        else:
            start = restored[0]
            state = driver.from_replicated(state_from_dict(abstract, restored[1]))
        if stop.signum is not None:  # before the first step: nothing new to save
            raise TrainingStopped(start, stop.signum, checkpoints.directory, saved=False)
        writer = MetricWriter(workdir, resume_step=start, enabled=is_main,
                              on_disk_full=checkpoints.disk_full)
        stack.callback(writer.close)
        progress = Progress(start, train.steps, enabled=is_main)
        stack.callback(progress.close)
        if restored is not None:
            progress.write(f"resumed from step {start} of {workdir / 'checkpoints'}")
        batches = _prefetched(data.batches(start), driver.put_batch,
                              max(1, config.data.prefetch), progress)
        pending, scores, last_logged, last_time = [], None, start, time.perf_counter()
        for step in range(start + 1, train.steps + 1):  # `step` counts updates done
            state, metrics = driver.step(state, next(batches))
            pending.append((step, metrics))
            validate_now = _due(step, train.eval_every, train.steps)
            stop_now = stop.reached(step)  # every process asks after every step
            save_now = (validate_now or stop_now
                        or _due(step, train.checkpoint_every, train.steps))
            if save_now or _due(step, train.log_every, train.steps):
                fetched = [(s, {k: float(v) for k, v in m.items()}) for s, m in fetch(pending)]
                pending = []
                bad = _first_bad_state(fetched)
                if bad is not None:
                    raise _diverged(checkpoints, *bad)
                checkpoints.confirm(step - 1)
                lr = float(schedule(step - 1))
                loss = float(np.mean([m["loss"] for _, m in fetched]))
                now = time.perf_counter()
                seconds = (now - last_time) / (step - last_logged)
                share = progress.update(step - last_logged, loss, lr)
                last_logged, last_time = step, now
                writer.write(step, {"loss": loss, "grad_norm": fetched[-1][1]["grad_norm"],
                                    "lr": lr, "data_wait": share, "seconds_per_step": seconds})
            val_psnr = None
            if validate_now:
                scores = validator(_local_variables(driver, state))
                val_psnr = float(np.mean(list(scores.values())))
                writer.write(step, {"psnr": val_psnr}, prefix="val")
                progress.write(f"step {step}: validation PSNR {val_psnr:.2f} dB")
            if save_now:
                checkpoints.save(step, state_to_dict(driver.to_replicated(state)), config,
                                 val_psnr)
            if stop_now:
                checkpoints.wait_until_finished()
                raise TrainingStopped(step, stop.signum, checkpoints.directory)
        checkpoints.wait_until_finished()
        if scores is None:  # resumed at the last step: nothing left to train
            scores = validator(_local_variables(driver, state))
        writer.write(train.steps, peak_memory(), prefix="memory")
    if is_main:
        print(validator.table(scores))
    return {**scores, "mean": float(np.mean(list(scores.values()))),
            "baseline_mean": float(np.mean(list(validator.baseline_psnr.values())))}


def _local_variables(driver, state) -> dict:
    local = driver.local_copy(state)
    return merge_variables(local.params, local.frozen)
