"""Scoring by the protocol of record: ground-truth images in, per-image and mean scores out.

    results = evaluate(images, task, restore)      # images: (name, uint8 HxWxC) pairs

`restore` is any function from the protocol's input (float32 HxWxC in [0, 1]) to an output of
the target's size (float in [0, 1] or uint8): a model's `Restorer`, a classical method (BM3D),
or None to score the baseline alone. Training validation and `eval.py score` both call this,
with the same `jaxrestore.protocol` degradation and metrics. Writing results and figures is
`jaxrestore.reports`' business (pass its writer as `on_image`).

Results dict: {"images": [{"name", "size", "baseline": scores, "model": scores}],
"mean": {"baseline": scores, "model": scores}} (no "model" entries when restore is None), with
scores as `protocol.score` returns them.
"""
import sys
from collections.abc import Callable, Iterable, Sequence

import numpy as np
from tqdm import tqdm

from jaxrestore import protocol
from jaxrestore.data import io
from jaxrestore.errors import InputError

Restore = Callable[[np.ndarray], np.ndarray]
OnImage = Callable[[str, protocol.Degraded, "np.ndarray | None", dict], None]


class FolderImages(Sequence):
    """(name, uint8 HxWxC) of every image under `data` (a folder, searched recursively, one
    file, or a list of image paths), read with `channels` channels when indexed (one image in
    memory at a time); names are file stems. Listing happens here, so a bad folder fails at
    construction."""

    def __init__(self, data, channels: int):
        self.paths = list(data) if isinstance(data, list) else io.list_images(data)
        if not self.paths:
            raise InputError(f"no images found in {data}")
        self.channels = channels

    def __len__(self) -> int:
        return len(self.paths)

    def __getitem__(self, index: int) -> tuple[str, np.ndarray]:
        path = self.paths[index]
        return path.stem, io.read_image(path, self.channels)


def score_degraded(name: str, degraded: protocol.Degraded, task,
                   restore: Restore | None = None, on_image: OnImage | None = None) -> dict:
    """One row of the results: the baseline's and (with `restore`) the model's scores."""
    row = {"name": name, "size": list(degraded.target.shape[:2]),
           "baseline": protocol.score(degraded.baseline, degraded.target, task)}
    restored = None
    if restore is not None:
        restored = np.asarray(restore(degraded.input))
        if restored.shape != degraded.target.shape:
            raise InputError(f"{name}: restored image has shape {restored.shape}, the target "
                             f"{degraded.target.shape}")
        row["model"] = protocol.score(restored, degraded.target, task)
    if on_image is not None:
        on_image(name, degraded, restored, row)
    return row


def evaluate(images: Iterable[tuple[str, np.ndarray]], task,
             restore: Restore | None = None, on_image: OnImage | None = None,
             progress: bool = False) -> dict:
    """Degrades each (name, uint8 ground truth) by `task`'s protocol, restores it and scores it
    (module doc); `task` is a `jaxrestore.tasks` task at one level; `on_image(name, degraded,
    restored, row)` is called after each image."""
    rows = [score_degraded(name, protocol.degrade(image, task), task, restore, on_image)
            for name, image in tqdm(images, desc="images", unit="img", disable=not progress,
                                    file=sys.stderr)]
    if not rows:
        raise InputError("no images to evaluate")
    return {"images": rows, "mean": {key: mean_scores([row[key] for row in rows])
                                     for key in ("baseline", "model") if key in rows[0]}}


def mean_scores(score_dicts) -> dict:
    """Per-metric means of a list of `protocol.score` dicts."""
    return {key: float(np.mean([s[key] for s in score_dicts])) for key in score_dicts[0]}
