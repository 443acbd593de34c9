"""What a run shows and records: a tqdm bar and metrics in metrics.jsonl + TensorBoard.

Only process 0 of a multi-host run reports; the others get disabled writers.
"""
import contextlib
import json
import pathlib
import time

from tqdm import tqdm

from jaxrestore.checkpoints import is_disk_full

METRICS_FILE = "metrics.jsonl"
TENSORBOARD_DIR = "tensorboard"


class MetricWriter:
    """Appends `{"step": s, **scalars}` lines to WORKDIR/metrics.jsonl and TensorBoard scalars.

    `resume_step`: lines of steps after it (logged by a run killed before its next checkpoint)
    are dropped, so the file reads as one uninterrupted run. A full disk while writing raises
    `on_disk_full(what)` (an exception; default: the OSError itself); closing never raises.
    """

    def __init__(self, workdir, resume_step: int = 0, enabled: bool = True, on_disk_full=None):
        self.enabled = enabled
        self._on_disk_full = on_disk_full
        if not enabled:
            return
        from tensorboardX import SummaryWriter  # heavy import, only where it writes

        workdir = pathlib.Path(workdir)
        workdir.mkdir(parents=True, exist_ok=True)
        self.path = workdir / METRICS_FILE
        if self.path.exists():
            kept = [line for line in self.path.read_text().splitlines()
                    if line.strip() and json.loads(line)["step"] <= resume_step]
            self.path.write_text("".join(line + "\n" for line in kept))
        self._file = self.path.open("a")
        self._tensorboard = SummaryWriter(str(workdir / TENSORBOARD_DIR))

    def write(self, step: int, scalars: dict, prefix: str = "train"):
        """Records `scalars` (name → float) at `step` under `prefix` ('train' | 'val')."""
        if not self.enabled:
            return
        named = {f"{prefix}/{k}": float(v) for k, v in scalars.items()}
        try:
            self._file.write(json.dumps({"step": step, **named}) + "\n")
            self._file.flush()
        except OSError as error:
            if self._on_disk_full is None or not is_disk_full(error):
                raise
            raise self._on_disk_full(f"writing step {step} to {self.path}") from None
        for name, value in named.items():
            self._tensorboard.add_scalar(name, value, step)

    def close(self):
        """Closes both files; on a full disk quietly, dropping what could not be written."""
        if not self.enabled:
            return
        with contextlib.suppress(OSError):
            self._file.close()
        try:
            self._tensorboard.close()
        except OSError:
            _abandon(self._tensorboard)


def _abandon(summary_writer):
    """Stops a tensorboardX SummaryWriter whose final flush failed: its event writers are
    marked closed (so their exit hook does not flush again) and their worker threads end."""
    for file_writer in summary_writer.all_writers.values():
        events = file_writer.event_writer
        events._closed = True
        events._worker.stop()


class Progress:
    """tqdm bar over steps: loss, lr, it/s, ETA and the share of time spent waiting for data."""

    def __init__(self, start_step: int, total_steps: int, enabled: bool = True):
        self._bar = tqdm(total=total_steps, initial=start_step, desc="train", unit="step",
                         disable=not enabled, dynamic_ncols=True)
        self.enabled = enabled
        self._waiting = 0.0
        self._since = time.perf_counter()

    def waited(self, seconds: float):
        """Adds time blocked on the input pipeline."""
        self._waiting += seconds

    def update(self, steps: int, loss: float, lr: float):
        """Advances the bar by `steps`; returns the waiting share since the last update."""
        now = time.perf_counter()
        share = self._waiting / max(now - self._since, 1e-9)
        self._waiting, self._since = 0.0, now
        self._bar.set_postfix(loss=f"{loss:.4g}", lr=f"{lr:.3g}", data_wait=f"{share:.0%}",
                              refresh=False)
        self._bar.update(steps)
        return share

    def write(self, line: str):
        """Prints a line above the bar (process 0 only)."""
        if self.enabled:
            self._bar.write(line)

    def close(self):
        self._bar.close()
