"""Checkpoint layout shared by train.py, the converters and the inference API.

A checkpoint directory is an orbax `CheckpointManager` root. Every step holds two items:

- `state`: a pytree with at least `params` (trainable weights) and `frozen` (a dict of the
  other variable collections, e.g. IGNN's constants); training adds optimiser state, step, rng.
- `config`: the full run config as JSON, so the model is rebuilt from what was saved
  (never from a lookup table that can drift from the weights).
"""
import pathlib

import ml_collections
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
