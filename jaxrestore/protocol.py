"""The evaluation protocol of record: one degradation and one scoring rule per task.

Training validation, `eval score`, the classical baselines and the experiment scripts all
degrade and score through `degrade` and `score` here, with the task objects of
`jaxrestore.tasks` (which hold each task's rules, table in its docstring), so a number in a
training log and a number in a results table are the same number (conventions:
../shared/CONVENTIONS.md; metrics: docs/metrics.md). This module holds what the tasks share:
the `Degraded` example, level ranges, the bicubic baseline and the metrics of record.
"""
import dataclasses

import numpy as np

from jaxrestore import metrics
from jaxrestore.errors import InputError
from jaxrestore.ops.imresize import imresize_np
from jaxrestore.ops.quantize import round_to_uint8

TEST_NOISE_SEED = 0


def level_range(value) -> tuple[float, float]:
    """A task level (sigma or quality): a number → (v, v); a [low, high] pair → (low, high)."""
    if np.ndim(value) == 0:
        return float(value), float(value)
    low, high = (float(v) for v in value)
    if low > high:
        raise InputError(f"range [{low:g}, {high:g}] has low > high")
    return low, high


@dataclasses.dataclass
class Degraded:
    """A ground-truth image through the protocol.

    input: float32 (h, w, C) in [0, 1] (noisy inputs are not clipped), what the model sees.
    target: uint8 (H, W, C), the ground truth (modcropped for SR).
    baseline: the classical answer, uint8 or float in [0, 1], the target's shape.
    shown: the input as a uint8 picture (for figures).
    """

    input: np.ndarray
    target: np.ndarray
    baseline: np.ndarray
    shown: np.ndarray


def degrade(image: np.ndarray, task) -> Degraded:
    """uint8 (H, W, C) ground truth → the `Degraded` test example of `task` (a
    `jaxrestore.tasks` task at one level)."""
    image = np.asarray(image)
    if image.dtype != np.uint8 or image.ndim != 3 or image.shape[-1] != task.channels:
        raise InputError(f"the {task.name} protocol takes uint8 (H, W, {task.channels}) ground "
                         f"truth, got {image.dtype} {image.shape}")
    return task.degrade(image)


def bicubic_baseline(hr: np.ndarray, scale: int) -> np.ndarray:
    """The bicubic row of SR tables: uint8 HR (modcropped) → down by 1/s → up by s, each a
    float MATLAB imresize rounded once to uint8 (im2uint8(imresize(im2double(x)))), which
    reproduces the reference numbers (Set5 x2 33.68 dB / 0.9305; see docs/metrics.md). The
    model's own LR input is MATLAB's uint8 imresize (rounded per pass, = the published LR
    files); the two LR images differ by one grey level in a few pixels."""
    lr = round_to_uint8(imresize_np(hr.astype(np.float64), 1 / scale))
    return round_to_uint8(imresize_np(lr.astype(np.float64), scale))


def score(restored, target, task) -> dict:
    """The metrics of record of one restored image (float in [0, 1] or uint8) against its uint8
    target by `task`'s rule (`task.score`): {'psnr', 'ssim'[, 'psnr_b']} floats."""
    return task.score(restored, target)


def scores(restored, target, crop_border: int, y_channel: bool, psnr_b: bool = False) -> dict:
    """PSNR and SSIM (and PSNR-B when asked) with `crop_border` pixels cropped from every
    border, on Y (BT.601) or on every channel: {'psnr', 'ssim'[, 'psnr_b']} floats."""
    protocol = dict(crop_border=crop_border, y_channel=y_channel)
    result = {"psnr": metrics.psnr(restored, target, **protocol),
              "ssim": metrics.ssim(restored, target, **protocol)}
    if psnr_b:
        result["psnr_b"] = metrics.psnr_b(restored, target, **protocol)
    return {key: float(value) for key, value in result.items()}
