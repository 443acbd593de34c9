"""Stopping a run cleanly on SIGTERM (schedulers, `docker stop`, preemptible machines) and SIGINT.

The first signal asks training to finish the step it is on, save it as a normal checkpoint and
stop (`TrainingStopped`); from then on a second SIGTERM or SIGINT has the default effect and
ends the process at once (orbax writes a step into a temporary folder and renames it when
complete, so earlier steps are untouched and the half-written one is removed at the next start).

One process: Python handlers record the signal. Multi-host (`jax.distributed`): JAX's
coordination service already catches SIGTERM as a preemption notice and agrees with every
process on the step to save at (`multihost_utils.reached_preemption_sync_point`, which every
process calls after every step); SIGINT is passed to it as a SIGTERM of this process.
"""
import os
import signal
import threading

import jax
from jax.experimental import multihost_utils

STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)


class TrainingStopped(Exception):
    """Training stopped on a signal at `step`, saved in `directory` (`saved` False: the signal
    came before the first step, nothing new to save); `signum` is the signal this process
    received (SIGTERM where it only heard of another process's)."""

    def __init__(self, step: int, signum: int, directory, saved: bool = True):
        what = f"saved step {step}" if saved else f"nothing new to save after step {step}"
        super().__init__(f"{signal.Signals(signum).name} received: {what} in {directory}")
        self.step, self.signum, self.directory, self.saved = step, signum, directory, saved


class StopRequests:
    """Context manager: while active, SIGTERM/SIGINT ask for a clean stop (module doc); the
    previous handlers are restored on exit. Outside the main thread it installs nothing, and
    a signal the process was told to ignore stays ignored."""

    def __init__(self):
        self.signum = None
        self._multihost = jax.process_count() > 1
        self._previous = {}

    def __enter__(self):
        if threading.current_thread() is threading.main_thread():
            # multi-host: SIGTERM stays with JAX's preemption notifier
            mine = (signal.SIGINT,) if self._multihost else STOP_SIGNALS
            self._previous = {s: signal.signal(s, self._received) for s in mine
                              if signal.getsignal(s) is not signal.SIG_IGN}  # e.g. nohup's
        return self

    def _received(self, signum, frame):
        self.signum = signum
        if self._multihost:
            os.kill(os.getpid(), signal.SIGTERM)  # a preemption notice for every process
        else:
            self._default_from_now_on()

    def _default_from_now_on(self):
        for s in STOP_SIGNALS:
            if s in self._previous:
                signal.signal(s, signal.SIG_DFL)

    def reached(self, step: int) -> bool:
        """Whether to save `step` and stop (every process of a run gets the same answer)."""
        if not self._multihost:
            return self.signum is not None
        if not multihost_utils.reached_preemption_sync_point(step):
            return False
        self.signum = self.signum or signal.SIGTERM
        if threading.current_thread() is threading.main_thread():
            self._previous.setdefault(signal.SIGTERM, signal.getsignal(signal.SIGTERM))
            self._default_from_now_on()
        return True

    def __exit__(self, *exc):
        for s, handler in self._previous.items():
            signal.signal(s, handler if handler is not None else signal.SIG_DFL)
