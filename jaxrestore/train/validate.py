"""Validation during training: restore whole held-out images, score them and a baseline."""
import functools

import jax
import numpy as np

from jaxrestore import metrics
from jaxrestore.data import degradations
from jaxrestore.evaluate import bicubic_baseline
from jaxrestore.models import apply_unit_range

BASELINE_NAMES = {"sr": "bicubic", "denoise": "noisy input", "jpeg": "JPEG input",
                  "demosaic": "bilinear"}


def baseline(example: dict, task) -> np.ndarray:
    """The classical answer the model must beat, HWC, the target's shape: the same baseline rows
    as eval.py (SR: bicubic by `evaluate.bicubic_baseline`; denoise / JPEG: the input itself;
    demosaic: bilinear demosaicing of the mosaic), so training logs and tables agree."""
    x = example["input"]
    if task.name == "sr":
        return bicubic_baseline(metrics.to_uint8_scale(example["target"]).astype(np.uint8),
                                task.scale)
    if task.name == "demosaic":
        mosaic = np.clip(np.round(x.sum(-1, keepdims=True) * 255.0), 0, 255).astype(np.uint8)
        return np.asarray(degradations.bilinear_demosaic(mosaic), np.float32) / 255.0
    return x


class Validator:
    """Scores a model on `images` (validation_images dicts) by the task's metric of record."""

    def __init__(self, module, pixel_range: float, images: list[dict], task):
        self.images = images
        self.task = task
        self._restore = jax.jit(functools.partial(apply_unit_range, module,
                                                  pixel_range=pixel_range))
        self.baseline_psnr = {e["name"]: self._psnr(baseline(e, task), e) for e in images}

    def _psnr(self, restored, example) -> float:
        return metrics.score(restored, example["target"], self.task.name,
                             self.task.scale)["psnr"]

    def __call__(self, variables) -> dict:
        """name → PSNR (dB) of the model's restoration of each image."""
        scores = {}
        for example in self.images:
            extras = {k: v[None] for k, v in example.items()
                      if k not in ("name", "input", "target")}
            restored = self._restore(variables, example["input"][None], **extras)
            scores[example["name"]] = self._psnr(np.asarray(restored[0]), example)
        return scores

    def table(self, scores: dict) -> str:
        """A text table of PSNR: baseline, model and gain per image, then the mean."""
        base = BASELINE_NAMES[self.task.name]
        width = max([len("mean")] + [len(n) for n in scores])
        lines = [f"{'image':<{width}}  {base + ' PSNR':>16}  {'model PSNR':>10}  {'gain':>6}"]
        rows = [(n, self.baseline_psnr[n], s) for n, s in scores.items()]
        rows.append(("mean", np.mean([r[1] for r in rows]), np.mean([r[2] for r in rows])))
        for name, b, s in rows:
            lines.append(f"{name:<{width}}  {b:16.2f}  {s:10.2f}  {s - b:+6.2f}")
        return "\n".join(lines)
