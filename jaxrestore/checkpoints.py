"""Checkpoint layout shared by training, the converters and inference; nothing is ever lost.

A checkpoint directory is an orbax `CheckpointManager` root. Every step holds:

- `state`: a pytree with at least `params` (trainable weights) and `frozen` (a dict of the
  other variable collections, e.g. IGNN's constants); training adds optimiser state, step, rng.
- `config`: the full run config as JSON, so the model is rebuilt from what was saved
  (never from a lookup table that can drift from the weights).
- `validation` (training steps that were validated): `{"val_psnr": dB}`, so "keep the best"
  survives restarts.

Steps are never deleted except by retention (`TrainCheckpoints`: the newest `keep` and the best
by validation PSNR stay). A step that cannot be read is moved to `<dir>_unreadable/`, a step
whose parameters are not finite or whose training diverged right after it to `<dir>_diverged/`;
readers skip them with one warning line and use the newest good step.
"""
import contextlib
import json
import math
import pathlib
import shutil
import sys

import jax
import jax.experimental.multihost_utils
import ml_collections
import numpy as np
import orbax.checkpoint as ocp

from jaxrestore import models
from jaxrestore.errors import CheckpointError

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


def _ignore_closed_event_loop(unraisable, previous=sys.unraisablehook):
    """sys.unraisablehook that drops orbax's late 'Event loop is closed' callbacks.

    After a failed read, tensorstore completes the other pending reads of the step and their
    callbacks hit orbax's already closed event loop; each prints a traceback that says nothing
    to the user. Everything else goes to the previous hook.
    """
    if not (unraisable.exc_type is RuntimeError
            and str(unraisable.exc_value) == "Event loop is closed"):
        previous(unraisable)


@contextlib.contextmanager
def _quiet_failed_reads():
    """Installs `_ignore_closed_event_loop` once a read inside the block has failed."""
    try:
        yield
    except Exception:
        if sys.unraisablehook is not _ignore_closed_event_loop:
            sys.unraisablehook = _ignore_closed_event_loop
        raise


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
    (to `log`, default stderr), as training's resume does; nothing is moved. Every failure is a
    CheckpointError."""
    path = checkpoint_directory(directory).resolve()
    log = log or (lambda line: print(line, file=sys.stderr))
    with _manager(path) as manager:
        steps = sorted(manager.all_steps(), reverse=True)
        if not steps:
            raise CheckpointError(f"no checkpoint in {directory}")
        reasons = []
        for step in steps:
            try:
                with _quiet_failed_reads():
                    # NumPy targets of the saved shapes: host arrays, whatever devices and
                    # mesh the run was saved from
                    targets = jax.tree.map(lambda m: np.zeros(m.shape, m.dtype),
                                           manager.item_metadata(step)[STATE])
                    restored = manager.restore(step, args=ocp.args.Composite(**{
                        STATE: ocp.args.StandardRestore(targets),
                        CONFIG: ocp.args.JsonRestore()}))
            except Exception as error:  # orbax raises many types for damaged files
                reasons.append(f"step {step} is unreadable ({_first_line(error)})")
                continue
            state = restored[STATE]
            if not all_finite(state["params"]):
                reasons.append(f"step {step} has non-finite parameters")
                continue
            for reason in reasons:
                log(f"warning: checkpoint {reason} in {path}; using step {step}")
            config = ml_collections.ConfigDict(restored[CONFIG])
            return config, merge_variables(state["params"], state.get("frozen", {})), step
    raise CheckpointError(f"no usable checkpoint in {directory} ({'; '.join(reasons)})")


def all_finite(tree) -> bool:
    """Whether every float array of a pytree (NumPy or JAX) is finite; only booleans reach the
    host."""
    checks = [(jax.numpy if isinstance(x, jax.Array) else np).isfinite(x).all()
              for x in jax.tree.leaves(tree) if np.issubdtype(x.dtype, np.floating)]
    return all(bool(c) for c in jax.device_get(checks))


class TrainCheckpoints:
    """The checkpoints of one training run, `WORKDIR/checkpoints` (layout above).

    Retention: a step is *confirmed* once training has gone on from it without a non-finite
    loss (`confirm`). After each save, the newest `keep` confirmed steps, every newer
    unconfirmed step and the best step by validation PSNR (stored with the step, so it survives
    restarts) are kept; the others are deleted. So a divergence right after a save still
    leaves the last confirmed step to resume from. Saving is asynchronous and takes device
    arrays as they are (orbax writes each from its device); every process of a multi-host run
    calls every method.
    """

    def __init__(self, directory, keep: int, log=print):
        self.directory = pathlib.Path(directory).resolve()
        self.keep = keep
        self._log = log
        self._manager = _manager(self.directory,
                                 max_to_keep=None,               # retention is ours (`_prune`)
                                 cleanup_tmp_directories=True)   # half-written steps of a kill
        self._scores = {}  # step → validation PSNR (None: not validated), read lazily
        self._confirmed_through = -1

    def steps(self) -> list[int]:
        return sorted(self._manager.all_steps())

    def score(self, step: int) -> float | None:
        """The validation PSNR stored with `step` (None if it was not validated)."""
        if step not in self._scores:
            try:
                with _quiet_failed_reads():
                    stored = self._manager.restore(step, args=ocp.args.Composite(
                        **{VALIDATION: ocp.args.JsonRestore()}))[VALIDATION]
                self._scores[step] = float(stored[BEST_METRIC])
            except Exception:  # not validated (no item), or unreadable: not a best candidate
                self._scores[step] = None
        return self._scores[step]

    def best_step(self) -> int | None:
        """The kept step with the highest validation PSNR (the newest among equals)."""
        scored = [(score, step) for step in self.steps()
                  if (score := self.score(step)) is not None and math.isfinite(score)]
        return max(scored)[1] if scored else None

    def save(self, step: int, state, config: ml_collections.ConfigDict,
             val_psnr: float | None = None):
        """Writes `state` (a pytree with `params` and `frozen`; NumPy or device arrays), the
        config and, when given, the validation PSNR as `step`; then applies retention."""
        items = {STATE: ocp.args.StandardSave(state), CONFIG: ocp.args.JsonSave(config.to_dict())}
        if val_psnr is not None:
            items[VALIDATION] = ocp.args.JsonSave({BEST_METRIC: float(val_psnr)})
        self._manager.save(step, args=ocp.args.Composite(**items))
        self._scores[step] = None if val_psnr is None else float(val_psnr)
        self._prune()

    def confirm(self, step: int):
        """Marks every step ≤ `step` as confirmed (training went on from it with finite
        losses)."""
        self._confirmed_through = max(self._confirmed_through, step)

    def _prune(self):
        steps = self.steps()
        confirmed = [step for step in steps if step <= self._confirmed_through]
        keep = (set(confirmed[-self.keep:]) | {self.best_step()}
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
        for step in reversed(steps):
            try:
                with _quiet_failed_reads():
                    saved = self._manager.restore(step, args=ocp.args.Composite(
                        **{CONFIG: ocp.args.JsonRestore()}))[CONFIG]
            except Exception as error:  # orbax raises many types for damaged files
                self._set_aside([step], UNREADABLE, f"is unreadable ({_first_line(error)})")
                continue
            saved["model"] = models.stored_model_config(saved.get("model", {}), config.model)
            for section in ("model", "task"):
                if saved.get(section) != json.loads(json.dumps(config[section].to_dict())):
                    raise CheckpointError(
                        f"{self.directory} holds a run with a different {section} config "
                        f"(step {step}); use another work directory to start a new run")
            try:
                with _quiet_failed_reads():
                    state = self._manager.restore(step, args=ocp.args.Composite(
                        **{STATE: ocp.args.StandardRestore(template)}))[STATE]
            except Exception as error:
                self._set_aside([step], UNREADABLE, f"is unreadable ({_first_line(error)})")
                continue
            if not all_finite(state["params"]):
                self._set_aside([step], DIVERGED, "has non-finite parameters")
                continue
            return step, state
        if steps:
            raise CheckpointError(
                f"no usable checkpoint in {self.directory} (tried steps "
                f"{', '.join(map(str, steps))}; see the lines above); move it away to start "
                "afresh")
        return None

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
        """Blocks until every pending save is on disk."""
        self._manager.wait_until_finished()

    def close(self):
        self._manager.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
