"""One trainer per work directory: `WORKDIR/train.lock` names the holder (host, PID, start time).

Mechanism: the holder's record is written to a file of its own and hard-linked to `train.lock`
(link(2) is atomic and fails if the name exists, locally and on NFS, where open(2)'s man page
recommends it over O_EXCL; a link that failed in transit is recognised by the link count).
fcntl/flock locks were not chosen: on NFS they depend on the lock daemon, which `nolock` and
`local_lock` mounts and some cluster filesystems lack, so two hosts could both "hold" one.
Where hard links are not supported the lock is created with O_CREAT|O_EXCL instead.

A lock file outlives a killed holder, so it is *stale*, and taken over with one warning line,
when its holder runs on this host and its PID is gone, or (any host) when its heartbeat stopped:
the holder touches the file every `HEARTBEAT_SECONDS`, and a file untouched for
`STALE_AFTER_SECONDS` by the file server's clock (compared with a file just created beside it,
so host clocks need not agree) belongs to a process that is gone or frozen. In a multi-host run
process 0 holds the lock and tells the others whether it got it.
"""
import datetime
import errno
import json
import os
import pathlib
import socket
import threading

import jax
import numpy as np

from jaxrestore.errors import EXIT_RUNTIME, UserError

LOCK_FILE = "train.lock"
HEARTBEAT_SECONDS = 60.0
STALE_AFTER_SECONDS = 600.0


class WorkdirBusy(UserError):
    """Another trainer holds the work directory."""

    exit_code = EXIT_RUNTIME


def _pid_alive(pid: int) -> bool:
    """Whether process `pid` of this host runs (a zombie, which some container init processes
    never reap, has ended)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process
        return True
    try:
        return pathlib.Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):  # no /proc (not Linux)
        return True


def _describe(record: dict) -> str:
    return (f"PID {record.get('pid', '?')} on {record.get('host', '?')}, started "
            f"{record.get('started', '?')}")


class WorkdirLock:
    """Context manager holding `WORKDIR/train.lock` (see the module doc); raises WorkdirBusy
    (one line naming the holder) when a live trainer holds it. `log` gets the takeover warning.
    """

    def __init__(self, workdir, log=print):
        self.path = pathlib.Path(workdir) / LOCK_FILE
        self._log = log
        self._record = json.dumps({
            "host": socket.gethostname(), "pid": os.getpid(),
            "started": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")})
        self._stop = threading.Event()
        self._heartbeat = None

    def __enter__(self):
        for _ in range(2):  # a stale lock is taken over once; a second loss means a live rival
            server_now = self._try_create()
            if server_now is None:
                self._heartbeat = threading.Thread(target=self._beat, daemon=True,
                                                   name="workdir-lock-heartbeat")
                self._heartbeat.start()
                return self
            self._take_over_if_stale(server_now)
        raise WorkdirBusy(f"work directory {self.path.parent} is in use ({self._holder_text()})")

    def _try_create(self) -> float | None:
        """Creates the lock; None on success, else the file server's current time."""
        own = self.path.with_name(f"{LOCK_FILE}.{socket.gethostname()}.{os.getpid()}")
        own.write_text(self._record)
        try:
            os.link(own, self.path)
            return None
        except FileExistsError:
            return None if own.stat().st_nlink == 2 else own.stat().st_mtime
        except OSError as error:
            if error.errno not in (errno.EPERM, errno.ENOTSUP, errno.EOPNOTSUPP, errno.ENOSYS):
                raise
            return self._create_exclusive(own.stat().st_mtime)
        finally:
            own.unlink()

    def _create_exclusive(self, server_now: float) -> float | None:
        """The O_CREAT|O_EXCL fallback for filesystems without hard links."""
        try:
            descriptor = os.open(self.path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
        except FileExistsError:
            return server_now
        with os.fdopen(descriptor, "w") as file:
            file.write(self._record)
        return None

    def _read(self) -> tuple[str, dict]:
        try:
            text = self.path.read_text()
        except FileNotFoundError:
            return "", {}
        try:
            return text, json.loads(text)
        except ValueError:  # being written (O_EXCL fallback) or damaged: judged by age alone
            return text, {}

    def _holder_text(self) -> str:
        return f"held by {_describe(self._read()[1])}; lock file {self.path}"

    def _stale_reason(self, record: dict, server_now: float) -> str | None:
        try:
            age = server_now - self.path.stat().st_mtime
        except FileNotFoundError:
            return "it was just released"
        if record.get("host") == socket.gethostname() and isinstance(record.get("pid"), int) \
                and (record["pid"] == os.getpid() or not _pid_alive(record["pid"])):
            return f"PID {record['pid']} is not running"
        if age > STALE_AFTER_SECONDS:
            return f"its heartbeat stopped {age / 60:.0f} minutes ago"
        return None

    def _take_over_if_stale(self, server_now: float):
        """Removes a stale lock (one warning line); raises WorkdirBusy for a live one."""
        text, record = self._read()
        reason = self._stale_reason(record, server_now)
        if reason is None:
            raise WorkdirBusy(f"work directory {self.path.parent} is in use (held by "
                              f"{_describe(record)}; lock file {self.path})")
        # rename, then check that what was renamed is the stale record just judged: a rival
        # taking over at the same moment may have put its own lock there in between
        taken = self.path.with_name(f"{LOCK_FILE}.stale.{socket.gethostname()}.{os.getpid()}")
        try:
            os.rename(self.path, taken)
        except FileNotFoundError:
            return
        if taken.read_text() != text:
            try:
                os.link(taken, self.path)  # a live rival's lock: put it back
            except FileExistsError:
                pass
            taken.unlink()
            raise WorkdirBusy(f"work directory {self.path.parent} is in use "
                              f"({self._holder_text()})")
        taken.unlink()
        self._log(f"warning: taking over the stale lock of {_describe(record)} ({reason}): "
                  f"{self.path}")

    def _beat(self):
        while not self._stop.wait(HEARTBEAT_SECONDS):
            try:
                os.utime(self.path)
            except OSError:  # a full or vanished disk is reported by the training itself
                pass

    def __exit__(self, *exc):
        self._stop.set()
        self._heartbeat.join()
        if self._read()[0] == self._record:  # never remove a lock taken over meanwhile
            self.path.unlink()


def hold_workdir(workdir, stack, log=print):
    """Process 0 enters a WorkdirLock on `stack` (a contextlib.ExitStack); in a multi-host run
    every process then learns whether it got it. Raises WorkdirBusy in every process if not."""
    error = None
    if jax.process_index() == 0:
        try:
            stack.enter_context(WorkdirLock(workdir, log))
        except WorkdirBusy as busy:
            error = busy
    if jax.process_count() > 1:
        from jax.experimental import multihost_utils

        held = multihost_utils.broadcast_one_to_all(np.int32(error is None))
        if not held and error is None:
            error = WorkdirBusy(f"work directory {workdir} is in use (process 0 could not lock "
                                "it; see its error line)")
    if error is not None:
        raise error
