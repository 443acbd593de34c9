"""Checkpoint layout shared by train.py, the converters and the inference API.

A checkpoint directory is an orbax `CheckpointManager` root. Every step holds two items:

- `state`: a pytree with at least `params` (trainable weights) and `frozen` (a dict of the
  other variable collections, e.g. IGNN's constants); training adds optimiser state, step, rng.
- `config`: the full run config as JSON, so the model is rebuilt from what was saved
  (never from a lookup table that can drift from the weights).
"""
import json
import pathlib
import shutil

import jax
import jax.experimental.multihost_utils
import ml_collections
import numpy as np
import orbax.checkpoint as ocp

STATE = "state"
CONFIG = "config"


def split_variables(variables) -> tuple[dict, dict]:
    """Flax variables → (params, frozen collections)."""
    variables = dict(variables)
    params = variables.pop("params", {})
    return params, variables


def merge_variables(params, frozen) -> dict:
    """(params, frozen collections) → Flax variables."""
    return {"params": params, **frozen}


def save_for_inference(directory, config: ml_collections.ConfigDict, variables, step: int = 0):
    """Writes `variables` and `config` as step `step` of a new or existing checkpoint directory."""
    params, frozen = split_variables(variables)
    with ocp.CheckpointManager(pathlib.Path(directory).resolve()) as manager:
        manager.save(
            step,
            args=ocp.args.Composite(
                **{
                    STATE: ocp.args.StandardSave({"params": params, "frozen": frozen}),
                    CONFIG: ocp.args.JsonSave(config.to_dict()),
                }
            ),
        )
        manager.wait_until_finished()


def load_for_inference(directory, step: int | None = None):
    """Reads (config, variables) from a checkpoint directory (latest step unless given).

    Raises FileNotFoundError when the directory holds no checkpoint.
    """
    path = pathlib.Path(directory).resolve()
    if not path.is_dir():
        raise FileNotFoundError(f"checkpoint directory not found: {directory}")
    with ocp.CheckpointManager(path) as manager:
        step = manager.latest_step() if step is None else step
        if step is None:
            raise FileNotFoundError(f"no checkpoint in {directory}")
        restored = manager.restore(
            step,
            args=ocp.args.Composite(
                **{STATE: ocp.args.StandardRestore(), CONFIG: ocp.args.JsonRestore()}
            ),
        )
    state = restored[STATE]
    config = ml_collections.ConfigDict(restored[CONFIG])
    return config, merge_variables(state["params"], state.get("frozen", {}))


BEST_METRIC = "val_psnr"


class CheckpointError(RuntimeError):
    """A checkpoint directory that cannot be resumed (message is one line for the user)."""


class TrainCheckpoints:
    """The checkpoints of one training run, `WORKDIR/checkpoints` (layout above).

    Keeps the last `keep` steps and the best step by validation PSNR (`metrics['val_psnr']`,
    given to `save` when validation ran at that step). Saving is asynchronous; every process
    of a multi-host run calls every method.
    """

    def __init__(self, directory, keep: int, log=print):
        self.directory = pathlib.Path(directory).resolve()
        self._log = log
        self._reasons = {}
        policy = ocp.checkpoint_managers.AnyPreservationPolicy([
            ocp.checkpoint_managers.LatestN(n=keep),
            ocp.checkpoint_managers.BestN(
                get_metric_fn=lambda metrics: metrics[BEST_METRIC], n=1,
                keep_checkpoints_without_metrics=False),
        ])
        self._manager = ocp.CheckpointManager(
            self.directory, options=ocp.CheckpointManagerOptions(
                preservation_policy=policy,
                cleanup_tmp_directories=True))  # half-written steps of a killed run

    def save(self, step: int, state: dict, config: ml_collections.ConfigDict,
             metrics: dict | None = None):
        """Writes `state` (host pytree with `params` and `frozen`) and the config as `step`."""
        self._manager.save(
            step,
            args=ocp.args.Composite(
                **{STATE: ocp.args.StandardSave(state), CONFIG: ocp.args.JsonSave(config.to_dict())}
            ),
            metrics=metrics,
        )

    def restore_latest(self, template: dict, config: ml_collections.ConfigDict):
        """(step, state shaped like `template`) of the newest readable step, or None if none.

        An unreadable newer step is reported with one warning line and skipped, falling back
        to the one before; once an older step is read, the unreadable newer ones are moved to
        `<directory>_unreadable/` (never deleted) so training can save those steps again. Raises CheckpointError if steps exist but none can be read, or if
        the saved run used a different model or task than `config`.
        """
        template = jax.tree.map(np.asarray, template)  # NumPy arrays restore as NumPy arrays
        steps = sorted(self._manager.all_steps(), reverse=True)
        unreadable = []
        for step in steps:
            try:
                saved = self._manager.restore(step, args=ocp.args.Composite(
                    **{CONFIG: ocp.args.JsonRestore()}))[CONFIG]
            except Exception as error:  # orbax raises many types for damaged files
                self._warn_unreadable(step, error)
                unreadable.append(step)
                continue
            for section in ("model", "task"):
                if saved.get(section) != json.loads(json.dumps(config[section].to_dict())):
                    raise CheckpointError(
                        f"{self.directory} holds a run with a different {section} config "
                        f"(step {step}); use another --workdir to start a new run")
            try:
                state = self._manager.restore(step, args=ocp.args.Composite(
                    **{STATE: ocp.args.StandardRestore(template)}))[STATE]
            except Exception as error:
                self._warn_unreadable(step, error)
                unreadable.append(step)
                continue
            self._set_aside(unreadable)
            return step, state
        if steps:
            raise CheckpointError(
                f"no readable checkpoint in {self.directory} (step {steps[0]}: "
                f"{self._reasons[steps[0]]}; tried {len(steps)} steps); move it away to "
                "start afresh")
        return None

    def _warn_unreadable(self, step: int, error: Exception):
        lines = str(error).strip().splitlines() or [""]
        self._reasons[step] = f"{type(error).__name__}: {lines[0][:200]}"
        self._log(f"warning: checkpoint step {step} in {self.directory} is unreadable "
                  f"({self._reasons[step]}); falling back to the previous step")

    def _set_aside(self, steps: list[int]):
        """Moves unreadable steps to `<directory>_unreadable/` so training can save them anew."""
        if not steps:
            return
        aside = self.directory.with_name(self.directory.name + "_unreadable")
        if jax.process_index() == 0:
            aside.mkdir(exist_ok=True)
            for step in steps:
                shutil.move(str(self.directory / str(step)), str(aside / str(step)))
            self._log(f"moved unreadable steps {', '.join(map(str, steps))} to {aside}")
        jax.experimental.multihost_utils.sync_global_devices("jaxrestore_set_aside")
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
