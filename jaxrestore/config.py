"""The rules a run config must satisfy, checked before any data is read or model built.

`check_config(config)` raises `ConfigError` with one line naming the fields at fault. The model
section is the source of truth for what the network maps (`jaxrestore.models.signature`:
channels, scale); the task section must agree with it, and the data section with both (crop
sizes). The sections themselves are documented in `jaxrestore/configs/common.py`.
"""
from jaxrestore import models, protocol
from jaxrestore.data.sources import SOURCES
from jaxrestore.errors import ConfigError, InputError
from jaxrestore.train.losses import LOSSES
from jaxrestore.train.optim import OPTIMIZERS, SCHEDULES
from jaxrestore.train.parallel import DRIVERS

SECTIONS = ("model", "task", "data", "train")


def check_config(config) -> None:
    """Raises ConfigError (one line) for a config that cannot train or evaluate (module doc)."""
    missing = [s for s in SECTIONS if s not in config]
    if missing:
        raise ConfigError(f"the config has no {', '.join(missing)} section")
    signature = check_model_and_task(config)
    _check_data(config, signature)
    _check_train(config.train)


def check_model_and_task(config) -> models.Signature:
    """Checks the model fields and that the task is one the model restores, with its channels
    and scale; returns the model's Signature. (What a checkpoint's config must satisfy.)"""
    signature = models.signature(config.model)
    task, name = config.task, config.model.name
    if task.name not in protocol.TASKS:
        raise ConfigError(f"unknown task.name {task.name!r}; known: {', '.join(protocol.TASKS)}")
    if task.name not in signature.tasks:
        raise ConfigError(f"model {name!r} restores {', '.join(signature.tasks)}, not "
                          f"task.name {task.name!r}")
    if task.channels not in (1, 3):
        raise ConfigError(f"task.channels must be 1 or 3, got {task.channels}")
    channels = 3 if task.name == "demosaic" else task.channels
    if (signature.in_channels, signature.out_channels) != (channels, channels):
        raise ConfigError(
            f"task {task.name!r} with task.channels={task.channels} needs a model with "
            f"{channels} input and output channels; model {name!r} maps "
            f"{signature.in_channels} to {signature.out_channels}")
    if task.name == "sr" and task.scale != signature.scale:
        raise ConfigError(f"task.scale={task.scale} but the model upscales x{signature.scale} "
                          f"(model.scale); change both, or use a config made for x{task.scale}")
    try:
        protocol.task_from_config(task, hardest=True)
    except InputError as error:
        raise ConfigError(f"task: {error}") from None
    return signature


def _positive_int(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value > 0


def _check_data(config, signature: models.Signature) -> None:
    data, task = config.data, config.task
    if data.source not in SOURCES:
        raise ConfigError(f"unknown data.source {data.source!r}; known: {', '.join(SOURCES)}")
    if data.source == "folder" and not str(data.train_path).strip():
        raise ConfigError("data.source='folder' needs data.train_path (folders, comma separated)")
    for field in ("patch_size", "batch_size"):
        if not _positive_int(data[field]):
            raise ConfigError(f"data.{field} must be a positive integer, got {data[field]!r}")
    scale = task.scale if task.name == "sr" else 1
    if data.patch_size % scale:
        raise ConfigError(f"data.patch_size={data.patch_size} is not a multiple of the scale "
                          f"{scale}")
    if data.patch_size // scale < signature.min_size:
        raise ConfigError(
            f"data.patch_size={data.patch_size} gives {data.patch_size // scale} px model "
            f"inputs; model {config.model.name!r} needs at least {signature.min_size} px")
    if data.num_workers < 0 or data.prefetch < 0:
        raise ConfigError("data.num_workers and data.prefetch must be >= 0")


def _check_train(train) -> None:
    for field, known in (("loss", LOSSES), ("schedule", SCHEDULES), ("optimizer", OPTIMIZERS),
                         ("parallel", DRIVERS)):
        if train[field] not in known:
            raise ConfigError(f"unknown train.{field} {train[field]!r}; known: "
                              f"{', '.join(known)}")
    for field in ("steps", "log_every", "keep_checkpoints"):
        if not _positive_int(train[field]):
            raise ConfigError(f"train.{field} must be a positive integer, got {train[field]!r}")
    for field in ("eval_every", "checkpoint_every"):
        if train[field] < 0:
            raise ConfigError(f"train.{field} must be >= 0 (0: only at the last step), "
                              f"got {train[field]}")
    if not train.learning_rate > 0:
        raise ConfigError(f"train.learning_rate must be > 0, got {train.learning_rate}")
