"""User-facing errors: a mistake the user can fix, reported by the command-line tools as one line.

Every class here derives from `UserError`; the CLIs print `prog: error: <message>` for it and
exit non-zero, with no traceback. Messages name what is wrong in the library's own terms (config
fields, paths, image shapes), never command-line flags: the CLIs add those where it helps.
Anything else that escapes is a bug and keeps its traceback.
"""


class UserError(ValueError):
    """A mistake the user can fix (bad path, option, image or config); one-line message."""


class ConfigError(UserError):
    """A config that cannot work: unknown field, or fields that contradict each other."""


class DataSourceError(UserError):
    """Training or validation images that cannot be found or used."""


class ImageReadError(UserError):
    """An image file that is missing, unreadable or in an unsupported format."""


class InputError(UserError):
    """A bad image, option or task for inference and evaluation."""


class CheckpointError(UserError):
    """A checkpoint directory that is missing, unreadable, or holds another run."""


class TrainingDiverged(UserError):
    """Training stopped at a non-finite loss; the message names the step it can resume from."""


class DiskFull(UserError):
    """No space left on the device (or quota) while writing; the message names what is kept."""
