"""Checkpoint layout shared by training, the converters and inference; nothing is ever lost.

A checkpoint directory is an orbax `CheckpointManager` root. Every step holds:

- `state`: a pytree with at least `params` (trainable weights) and `frozen` (a dict of the
  other variable collections, e.g. IGNN's constants); training adds optimiser state, step, rng.
- `config`: the full run config as JSON, so the model is rebuilt from what was saved
  (never from a lookup table that can drift from the weights).
- `validation` (training steps): `{"val_psnr": dB}`, or `{"val_psnr": null}` where it was not
  measured (steps between validations, a step saved on a signal), so "keep the best" survives
  restarts.

Steps are never deleted except by retention (`TrainCheckpoints`: the newest `keep` and the best
by validation PSNR stay). A step that cannot be read is moved to `<dir>_unreadable/`, a step
whose parameters are not finite or whose training diverged right after it to `<dir>_diverged/`;
readers skip them with one warning line and use the newest good step. A save that runs out of
space removes its half-written step and raises DiskFull naming the newest complete one.
"""
import contextlib
import json
import logging
import math
import pathlib
import shutil
import sys
import threading
import time

import jax
import jax.experimental.multihost_utils
import ml_collections
import numpy as np
import orbax.checkpoint as ocp

from jaxrestore import models
from jaxrestore.errors import DISK_FULL_ERRNOS, CheckpointError, DiskFull

STATE = "state"
CONFIG = "config"
VALIDATION = "validation"
BEST_METRIC = "val_psnr"
UNREADABLE = "_unreadable"
DIVERGED = "_diverged"


def split_variables(variables) -> tuple[dict, dict]:
    """Flax variables → (params, frozen collections)."""
    variables = dict(variables)
    params = variables.pop("params", {})
    return params, variables


def merge_variables(params, frozen) -> dict:
    """(params, frozen collections) → Flax variables."""
    return {"params": params, **frozen}


def _first_line(error: Exception) -> str:
    lines = str(error).strip().splitlines() or [""]
    return f"{type(error).__name__}: {lines[0][:200]}"


# how tensorstore names them in the messages that orbax logs and re-raises as ValueError
_DISK_FULL_MARKS = tuple(f"[os_error_code='{code}']" for code in DISK_FULL_ERRNOS)


def is_disk_full(error: BaseException) -> bool:
    """Whether `error`, or an exception it was raised from, is a full disk or an exhausted
    quota (an OSError, or tensorstore's message)."""
    seen = set()
    while error is not None and id(error) not in seen:
        seen.add(id(error))
        if isinstance(error, OSError) and error.errno in DISK_FULL_ERRNOS:
            return True
        if any(mark in str(error) for mark in _DISK_FULL_MARKS):
            return True
        error = error.__cause__ or error.__context__
    return False


def _not_orbax_noise(record: logging.LogRecord) -> bool:
    """Log filter dropping orbax's word on what our own lines report: its warnings (e.g. a
    damaged step's missing metadata: the reader names the step as unreadable) and its errors
    about a full disk (DiskFull reports it once)."""
    error = record.exc_info[1] if record.exc_info else None
    return not ((record.levelno < logging.ERROR and "orbax" in record.pathname)
                or any(mark in record.getMessage() for mark in _DISK_FULL_MARKS)
                or (error is not None and is_disk_full(error)))


def _is_closed_event_loop(unraisable) -> bool:
    return (unraisable.exc_type is RuntimeError
            and str(unraisable.exc_value) == "Event loop is closed")


@contextlib.contextmanager
def _quiet_orbax_failures():
    """Within the block, sys.unraisablehook drops orbax's late 'Event loop is closed' callbacks
    (passing everything else to the hook it replaced) and absl's log drops orbax's warnings and
    full-disk errors (`_not_orbax_noise`); both are restored afterwards.

    After a failed read or write, tensorstore completes the step's other pending operations
    and their callbacks hit orbax's already closed event loop; each would print a traceback that
    says nothing to the user.
    """
    previous = sys.unraisablehook
    absl_logger = logging.getLogger("absl")
    absl_logger.addFilter(_not_orbax_noise)

    def hook(unraisable):
        if not _is_closed_event_loop(unraisable):
            previous(unraisable)

    sys.unraisablehook = hook
    try:
        yield
    finally:
        absl_logger.removeFilter(_not_orbax_noise)
        if sys.unraisablehook is hook:  # leave a hook installed meanwhile by others alone
            sys.unraisablehook = previous


def _newest_usable(steps, read, params, set_aside):
    """(step, read(step)) of the newest of `steps` that reads and has finite `params(value)`,
    or None. Each step passed over goes to `set_aside(step, kind, reason)` (kind: UNREADABLE or
    DIVERGED). A CheckpointError from `read` (a step of another run) is raised as it is."""
    for step in sorted(steps, reverse=True):
        try:
            value = read(step)
        except CheckpointError:
            raise
        except Exception as error:  # orbax raises many types for damaged files
            set_aside(step, UNREADABLE, f"is unreadable ({_first_line(error)})")
            continue
        if not all_finite(params(value)):
            set_aside(step, DIVERGED, "has non-finite parameters")
            continue
        return step, value
    return None


def _manager(directory: pathlib.Path, **options) -> ocp.CheckpointManager:
    """An orbax manager of `directory` that knows every item of the layout above."""
    handlers = {STATE: ocp.StandardCheckpointHandler(), CONFIG: ocp.JsonCheckpointHandler(),
                VALIDATION: ocp.JsonCheckpointHandler()}
    return ocp.CheckpointManager(
        directory, item_handlers=handlers,
        options=ocp.CheckpointManagerOptions(**options) if options else None)


def checkpoint_directory(path) -> pathlib.Path:
    """A checkpoint directory, or a train.py workdir (its `checkpoints/` subfolder)."""
    path = pathlib.Path(path)
    if not path.is_dir():
        raise CheckpointError(f"checkpoint directory not found: {path}")
    return path / "checkpoints" if (path / "checkpoints").is_dir() else path


def save_for_inference(directory, config: ml_collections.ConfigDict, variables, step: int = 0):
    """Writes `variables` and `config` as step `step` of a new or existing checkpoint directory."""
    params, frozen = split_variables(variables)
    with _manager(pathlib.Path(directory).resolve()) as manager:
        manager.save(step, args=ocp.args.Composite(**{
            STATE: ocp.args.StandardSave({"params": params, "frozen": frozen}),
            CONFIG: ocp.args.JsonSave(config.to_dict())}))
        manager.wait_until_finished()


def load_for_inference(directory, log=None):
    """(config, variables, step) of the newest readable step of a checkpoint directory or a
    train.py workdir. An unreadable or non-finite newer step is skipped with one warning line
    (to `log`, default stderr), as training's resume does; nothing is moved. Model fields
    stored under an old name come back under today's (`jaxrestore.models.RENAMED`). Every
    failure is a CheckpointError."""
    path = checkpoint_directory(directory).resolve()
    log = log or (lambda line: print(line, file=sys.stderr))
    with _quiet_orbax_failures(), _manager(path) as manager:
        steps = manager.all_steps()
        if not steps:
            raise CheckpointError(f"no checkpoint in {directory}")

        def read(step):
            # NumPy targets of the saved shapes: host arrays, whatever devices and mesh the run
            # was saved from
            targets = jax.tree.map(lambda m: np.zeros(m.shape, m.dtype),
                                   manager.item_metadata(step)[STATE])
            return manager.restore(step, args=ocp.args.Composite(**{
                STATE: ocp.args.StandardRestore(targets), CONFIG: ocp.args.JsonRestore()}))

        reasons = []
        found = _newest_usable(steps, read, lambda restored: restored[STATE]["params"],
                               lambda step, kind, reason: reasons.append(f"step {step} {reason}"))
    if found is None:
        raise CheckpointError(f"no usable checkpoint in {directory} ({'; '.join(reasons)})")
    step, restored = found
    for reason in reasons:
        log(f"warning: checkpoint {reason} in {path}; using step {step}")
    state = restored[STATE]
    stored = restored[CONFIG]  # its model fields under today's names (stored before a rename)
    config = ml_collections.ConfigDict(
        {**stored, "model": models.renamed_fields(stored.get("model", {}))})
    return config, merge_variables(state["params"], state.get("frozen", {})), step


def all_finite(tree) -> bool:
    """Whether every float array of a pytree (NumPy or JAX) is finite; only booleans reach the
    host."""
    checks = [(jax.numpy if isinstance(x, jax.Array) else np).isfinite(x).all()
              for x in jax.tree.leaves(tree) if np.issubdtype(x.dtype, np.floating)]
    return all(bool(c) for c in jax.device_get(checks))


def _join_orbax_threads(timeout: float = 60.0):
    """Waits (up to `timeout` seconds) for orbax's background threads, also those they start:
    the rest of a save whose first write failed."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        running = [thread for thread in threading.enumerate()
                   if type(thread).__module__.startswith("orbax.")
                   and thread is not threading.current_thread()]
        if not running:
            return
        try:
            running[0].join(max(0.0, deadline - time.monotonic()))
        except Exception:  # orbax's threads re-raise their failure, the one being reported
            pass


class TrainCheckpoints:
    """The checkpoints of one training run, `WORKDIR/checkpoints` (layout above).

    Retention: a step is *confirmed* once training has gone on from it without a non-finite
    loss (`confirm`). After each save, the newest `keep` confirmed steps, every newer
    unconfirmed step and the best step by validation PSNR (stored with the step, so it survives
    restarts) are kept, and while a save is under way also the best of the steps already
    written (the save may still fail); the others are deleted. So a divergence right after a
    save still leaves the last confirmed step to resume from. Saving is asynchronous and takes
    device arrays as they are (orbax writes each from its device); every process of a
    multi-host run calls every method. While it is open, orbax's noise about failed reads and
    full disks is silenced (`_quiet_orbax_failures`).
    """

    def __init__(self, directory, keep: int, log=print):
        self.directory = pathlib.Path(directory).resolve()
        self.keep = keep
        self._log = log
        self._manager = _manager(self.directory,
                                 max_to_keep=None,               # retention is ours (`_prune`)
                                 cleanup_tmp_directories=True)   # half-written steps of a kill
        self._scores = {}  # step → validation PSNR (None: not measured), read lazily
        self._confirmed_through = -1
        self._pending = None  # the step whose asynchronous save may still be running
        self._quiet = contextlib.ExitStack()
        self._quiet.enter_context(_quiet_orbax_failures())

    def steps(self) -> list[int]:
        return sorted(self._manager.all_steps())

    def score(self, step: int) -> float | None:
        """The validation PSNR stored with `step` (None if it was not measured)."""
        if step not in self._scores:
            self.wait_until_finished()  # orbax's reads wait anyway; a failed save is raised here
            try:
                stored = self._manager.restore(step, args=ocp.args.Composite(
                    **{VALIDATION: ocp.args.JsonRestore()}))[VALIDATION]
                self._scores[step] = (None if stored[BEST_METRIC] is None
                                      else float(stored[BEST_METRIC]))
            except Exception:  # no item (older runs), or unreadable: not a best candidate
                self._scores[step] = None
        return self._scores[step]

    def best_step(self, steps=None) -> int | None:
        """The step (of `steps`, default every kept one) with the highest validation PSNR (the
        newest among equals)."""
        scored = [(score, step) for step in (self.steps() if steps is None else steps)
                  if (score := self.score(step)) is not None and math.isfinite(score)]
        return max(scored)[1] if scored else None

    def save(self, step: int, state, config: ml_collections.ConfigDict,
             val_psnr: float | None = None):
        """Writes `state` (a pytree with `params` and `frozen`; NumPy or device arrays), the
        config and the validation PSNR (None: stored as not measured) as `step`; then applies
        retention. Raises DiskFull if this save or the previous one ran out of space."""
        self.wait_until_finished()  # a failure of the previous save is reported as its own
        for kept in self.steps():  # read now what retention needs: a read would wait for the save
            self.score(kept)
        metric = None if val_psnr is None else float(val_psnr)
        with self._saving(step):
            self._manager.save(step, args=ocp.args.Composite(**{
                STATE: ocp.args.StandardSave(state),
                CONFIG: ocp.args.JsonSave(config.to_dict()),
                VALIDATION: ocp.args.JsonSave({BEST_METRIC: metric})}))
        self._pending = step
        self._scores[step] = metric
        self._prune()

    @contextlib.contextmanager
    def _saving(self, step: int):
        """Turns a full disk while `step` is written into DiskFull (see `disk_full`)."""
        try:
            yield
        except Exception as error:
            if not is_disk_full(error):
                raise
            self._pending = None
            raise self.disk_full(f"saving step {step}", failed_step=step) from None

    def disk_full(self, what: str, failed_step: int | None = None) -> DiskFull:
        """The one-line error for a full disk while doing `what`; the half-written
        `failed_step` (orbax's temporary folder of it) is removed first, once orbax's other
        writes of it have ended (they would otherwise fail later, noisily, at exit)."""
        _join_orbax_threads()
        if failed_step is not None and jax.process_index() == 0:
            for partial in self.directory.glob(f"{failed_step}.orbax-checkpoint-tmp*"):
                shutil.rmtree(partial, ignore_errors=True)
        self._manager.reload()
        complete = [step for step in self.steps() if step != failed_step]
        newest = f"step {complete[-1]}" if complete else "none"
        return DiskFull(f"no space left on device while {what} in {self.directory}; newest "
                        f"complete checkpoint: {newest}")

    def confirm(self, step: int):
        """Marks every step ≤ `step` as confirmed (training went on from it with finite
        losses)."""
        self._confirmed_through = max(self._confirmed_through, step)

    def _prune(self):
        steps = self.steps()
        confirmed = [step for step in steps if step <= self._confirmed_through]
        written = [step for step in steps if step != self._pending]  # a save under way may fail
        keep = (set(confirmed[-self.keep:]) | {self.best_step(), self.best_step(written)}
                | {step for step in steps if step > self._confirmed_through})
        for step in steps:
            if step not in keep:
                self._manager.delete(step)
                self._scores.pop(step, None)

    def restore_latest(self, template, config: ml_collections.ConfigDict):
        """(step, state shaped like `template`) of the newest usable step, or None if none.

        template: a pytree of arrays or `jax.ShapeDtypeStruct`s (with shardings, to restore
        straight onto devices). An unreadable step is moved to `<dir>_unreadable/`, one with
        non-finite parameters to `<dir>_diverged/` (never deleted), each with one warning line,
        and the previous step is tried. Raises CheckpointError if steps exist but none is
        usable, or if the saved run used a different model or task than `config`.
        """
        template = jax.tree.map(
            lambda x: x if isinstance(x, jax.ShapeDtypeStruct | jax.Array) else np.asarray(x),
            template)  # NumPy scalars restore as NumPy arrays
        steps = self.steps()

        def read(step):
            saved = self._manager.restore(step, args=ocp.args.Composite(
                **{CONFIG: ocp.args.JsonRestore()}))[CONFIG]
            saved["model"] = models.stored_model_config(saved.get("model", {}), config.model)
            for section in ("model", "task"):
                if saved.get(section) != json.loads(json.dumps(config[section].to_dict())):
                    raise CheckpointError(
                        f"{self.directory} holds a run with a different {section} config "
                        f"(step {step}); use another work directory to start a new run")
            return self._manager.restore(step, args=ocp.args.Composite(
                **{STATE: ocp.args.StandardRestore(template)}))[STATE]

        found = _newest_usable(steps, read, lambda state: state["params"],
                               lambda step, kind, reason: self._set_aside([step], kind, reason))
        if steps and found is None:
            raise CheckpointError(
                f"no usable checkpoint in {self.directory} (tried steps "
                f"{', '.join(map(str, steps))}; see the lines above); move it away to start "
                "afresh")
        return found

    def set_aside_diverged(self, first_bad_step: int) -> list[int]:
        """Moves every step ≥ `first_bad_step` to `<dir>_diverged/` (after pending saves);
        returns the steps moved."""
        self.wait_until_finished()
        bad = [step for step in self.steps() if step >= first_bad_step]
        self._set_aside(bad, DIVERGED, "was followed by a non-finite loss")
        return bad

    def aside_directory(self, kind: str) -> pathlib.Path:
        return self.directory.with_name(self.directory.name + kind)

    def _set_aside(self, steps: list[int], kind: str, reason: str):
        """Moves `steps` to `<directory><kind>/` (a step already there is renamed, not
        overwritten), with one line each; the manager then forgets them."""
        if not steps:
            return
        aside = self.aside_directory(kind)
        if jax.process_index() == 0:
            aside.mkdir(exist_ok=True)
            for step in steps:
                target, n = aside / str(step), 1
                while target.exists():
                    target, n = aside / f"{step}.{n}", n + 1
                shutil.move(str(self.directory / str(step)), str(target))
                self._log(f"warning: checkpoint step {step} {reason}; moved to {target}")
        jax.experimental.multihost_utils.sync_global_devices("jaxrestore_set_aside")
        for step in steps:
            self._scores.pop(step, None)
        self._manager.reload()

    def wait_until_finished(self):
        """Blocks until every pending save is on disk; raises DiskFull if it ran out of space."""
        with self._saving(self._pending):
            self._manager.wait_until_finished()
        if self._pending is not None:
            self._pending = None
            self._prune()  # what was kept only in case the save failed

    def close(self):
        try:
            self._manager.close()
        finally:
            self._quiet.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
