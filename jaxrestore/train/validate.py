"""Validation during training: the protocol of record (`jaxrestore.evaluate`) on held-out
images, restored by the model on one device, jitted (one compilation per image size)."""
import functools

import jax
import numpy as np

from jaxrestore import evaluate, protocol
from jaxrestore.data.io import Sample
from jaxrestore.models import apply_unit_range


class Validator:
    """Scores a model on held-out ground truths by `task`'s protocol, exactly as eval.py does.

    samples: uint8 ground truths (degraded once, here); task: a `jaxrestore.tasks` task at one
    level (a blind model's hardest: `task.at_level(hardest=True)`).
    """

    def __init__(self, module, pixel_range: float, samples: list[Sample], task):
        self.task = task
        self.examples = [(s.name, protocol.degrade(s.image, task)) for s in samples]
        self._forward = jax.jit(functools.partial(apply_unit_range, module,
                                                  pixel_range=pixel_range))
        self.baseline_psnr = {name: evaluate.score_degraded(name, d, task)["baseline"]["psnr"]
                              for name, d in self.examples}

    def __call__(self, variables) -> dict:
        """name → PSNR (dB) of the model's restoration of each image; `variables` (device
        arrays, on one device) are used where they are."""
        def restore(x):
            return jax.device_get(self._forward(variables, x[None])[0])

        return {name: evaluate.score_degraded(name, d, self.task, restore)["model"]["psnr"]
                for name, d in self.examples}

    def table(self, scores: dict) -> str:
        """A text table of PSNR: baseline, model and gain per image, then the mean."""
        base = self.task.baseline_name
        width = max([len("mean")] + [len(n) for n in scores])
        lines = [f"{'image':<{width}}  {base + ' PSNR':>16}  {'model PSNR':>10}  {'gain':>6}"]
        rows = [(n, self.baseline_psnr[n], s) for n, s in scores.items()]
        rows.append(("mean", np.mean([r[1] for r in rows]), np.mean([r[2] for r in rows])))
        for name, b, s in rows:
            lines.append(f"{name:<{width}}  {b:16.2f}  {s:10.2f}  {s - b:+6.2f}")
        return "\n".join(lines)
