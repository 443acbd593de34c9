"""The rules of a config's `train` section, checked before any data is read or model built."""
from jaxrestore.config import positive_int
from jaxrestore.errors import ConfigError
from jaxrestore.train.losses import LOSSES
from jaxrestore.train.optim import OPTIMIZERS, SCHEDULES
from jaxrestore.train.parallel import DRIVERS


def check_train(train) -> None:
    """Raises ConfigError (one line) for a `train` section that cannot train."""
    for field, known in (("loss", LOSSES), ("schedule", SCHEDULES), ("optimizer", OPTIMIZERS),
                         ("parallel", DRIVERS)):
        if train[field] not in known:
            raise ConfigError(f"unknown train.{field} {train[field]!r}; known: "
                              f"{', '.join(known)}")
    for field in ("steps", "log_every", "keep_checkpoints"):
        if not positive_int(train[field]):
            raise ConfigError(f"train.{field} must be a positive integer, got {train[field]!r}")
    for field in ("eval_every", "checkpoint_every"):
        if train[field] < 0:
            raise ConfigError(f"train.{field} must be >= 0 (0: only at the last step), "
                              f"got {train[field]}")
    if not train.learning_rate > 0:
        raise ConfigError(f"train.learning_rate must be > 0, got {train.learning_rate}")
