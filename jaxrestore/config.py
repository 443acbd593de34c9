"""The rules a run config must satisfy, checked before any data is read or model built.

`check_config(config)` parses the task (`jaxrestore.tasks`) and raises `ConfigError` with one
line naming the fields at fault. The model section says what the network maps
(`jaxrestore.models.signature`: channels; the scale is the task's); the task must agree with
it, and the data section with both (crop sizes). The training section's rules live with the trainer
(`jaxrestore.train.checks`). The sections themselves are documented in
`jaxrestore/configs/common.py`.
"""
from jaxrestore import models, tasks
from jaxrestore.data.sources import SOURCES
from jaxrestore.errors import ConfigError, InputError

SECTIONS = ("model", "task", "data", "train")


def check_config(config, task=None):
    """The config's task (parsed here unless given) after checking the model, task and data
    sections; ConfigError (one line) for a config that cannot train or evaluate (module doc)."""
    missing = [s for s in SECTIONS if s not in config]
    if missing:
        raise ConfigError(f"the config has no {', '.join(missing)} section")
    task = parse_task(config.task) if task is None else task
    signature = check_model_and_task(config.model, task)
    _check_data(config, task, signature)
    return task


def parse_task(task_config, known: dict | None = None):
    """The task of a config's `task` section (`jaxrestore.tasks.task_from_config`), its
    mistakes as ConfigError."""
    try:
        task = tasks.task_from_config(task_config, known)
        task.at_level(hardest=True)
    except InputError as error:
        raise ConfigError(f"task: {error}") from None
    return task


def model_signature(config) -> models.Signature:
    """The `Signature` of a run config's model at its task's scale."""
    return models.signature(config.model, parse_task(config.task).scale)


def check_model_and_task(model_config, task) -> models.Signature:
    """Checks the model fields and that the model maps `task`'s channels at the task's scale;
    returns the model's Signature. (What a checkpoint's config must satisfy.)"""
    signature = models.signature(model_config, task.scale)
    name = model_config.name
    if (signature.in_channels, signature.out_channels) != (task.in_channels, task.out_channels):
        channels = (f"{task.in_channels} input and output" if task.in_channels == task.out_channels
                    else f"{task.in_channels} input and {task.out_channels} output")
        raise ConfigError(
            f"task {task.name!r} with task.channels={task.channels} needs a model with "
            f"{channels} channels; model {name!r} maps {signature.in_channels} to "
            f"{signature.out_channels}")
    return signature


def positive_int(value) -> bool:
    """A config value that is a positive int (not a bool)."""
    return isinstance(value, int) and not isinstance(value, bool) and value > 0


def _check_data(config, task, signature: models.Signature) -> None:
    data = config.data
    if data.source not in SOURCES:
        raise ConfigError(f"unknown data.source {data.source!r}; known: {', '.join(SOURCES)}")
    if data.source == "folder" and not str(data.train_path).strip():
        raise ConfigError("data.source='folder' needs data.train_path (folders, comma separated)")
    for field in ("patch_size", "batch_size"):
        if not positive_int(data[field]):
            raise ConfigError(f"data.{field} must be a positive integer, got {data[field]!r}")
    scale = task.scale
    if data.patch_size % scale:
        raise ConfigError(f"data.patch_size={data.patch_size} is not a multiple of the scale "
                          f"{scale}")
    if data.patch_size // scale < signature.min_size:
        raise ConfigError(
            f"data.patch_size={data.patch_size} gives {data.patch_size // scale} px model "
            f"inputs; model {config.model.name!r} needs at least {signature.min_size} px")
    if data.num_workers < 0 or data.prefetch < 0:
        raise ConfigError("data.num_workers and data.prefetch must be >= 0")
