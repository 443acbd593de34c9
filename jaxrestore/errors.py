"""User-facing errors: a mistake the user can fix, reported by the command-line tools as one line.

Every class here derives from `UserError`; the CLIs print `prog: error: <message>` for it and
exit with its `exit_code`, with no traceback. Messages name what is wrong in the library's own
terms (config fields, paths, image shapes), never command-line flags: the CLIs add those where
it helps. Anything else that escapes is a bug and keeps its traceback.

Exit codes, one rule for every command (stated in each --help): 0 success; 2 a usage mistake
(bad flags, config, paths or inputs given by the user: `EXIT_USAGE`, every UserError but the
runtime ones); 1 a runtime failure (`EXIT_RUNTIME`: training diverged, a full disk, a work
directory in use, an output that cannot be written, files that could not be restored); 130
interrupted by SIGINT, 143 by SIGTERM (train saves the step first).
"""
import errno

EXIT_USAGE = 2
EXIT_RUNTIME = 1
EXIT_RULE = ("exit status: 0 done; 2 a usage mistake (bad flag, config, path or input); "
             "1 a runtime failure (e.g. training diverged, a file could not be restored); "
             "130/143 interrupted by SIGINT/SIGTERM")


class UserError(ValueError):
    """A mistake the user can fix (bad path, option, image or config); one-line message."""

    exit_code = EXIT_USAGE


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

    exit_code = EXIT_RUNTIME


# The errno values of a full disk or an exhausted quota (OSError.errno), reported as DiskFull.
DISK_FULL_ERRNOS = (errno.ENOSPC, errno.EDQUOT)


class DiskFull(UserError):
    """No space left on the device (or quota) while writing; the message names what is kept."""

    exit_code = EXIT_RUNTIME


class OutputError(UserError):
    """An output that cannot be written: a read-only, full or impossible output folder, or a
    write that failed (the message names what was written before it)."""

    exit_code = EXIT_RUNTIME
