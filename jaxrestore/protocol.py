"""The evaluation protocol of record: one task registry, one degradation, one scoring rule.

Training validation, `eval.py score`, the classical baselines and the experiment scripts all
degrade and score through this module, so a number in a training log and a number in a results
table are the same number (conventions: ../shared/CONVENTIONS.md; metrics: docs/metrics.md).

| task     | input the model sees                         | baseline (row of tables) | scored on       |
|----------|----------------------------------------------|--------------------------|-----------------|
| sr       | MATLAB uint8 bicubic LR of modcrop(HR, s)    | bicubic, rounded once    | Y, crop = scale |
| denoise  | clean + N(0, (σ/255)²), seed 0, not clipped  | the noisy input          | RGB or grey     |
| jpeg     | Pillow JPEG at quality q, decoded            | the JPEG input           | + PSNR-B        |
| demosaic | RGGB mosaic in 3-channel masked form          | bilinear demosaic        | RGB             |

`degrade(image, task)` turns a uint8 ground truth into a `Degraded` example; `score(restored,
target, task)` gives the metrics of record. Training examples degrade their random crops with
the same `degrade_input` (other seeds and, for blind models, other levels).
"""
import dataclasses

import numpy as np

from jaxrestore import metrics
from jaxrestore.data import degradations
from jaxrestore.errors import InputError
from jaxrestore.ops.imresize import imresize_np
from jaxrestore.ops.quantize import round_to_uint8

TASKS = ("sr", "denoise", "jpeg", "demosaic")
BASELINE_NAMES = {"sr": "bicubic", "denoise": "noisy input", "jpeg": "JPEG input",
                  "demosaic": "bilinear demosaic"}
TEST_NOISE_SEED = 0


def _is_number(value) -> bool:
    return isinstance(value, int | float | np.integer | np.floating) and not isinstance(value, bool)


def level_range(value) -> tuple[float, float]:
    """A task level (sigma or quality): a number → (v, v); a [low, high] pair → (low, high)."""
    if np.ndim(value) == 0:
        return float(value), float(value)
    low, high = (float(v) for v in value)
    if low > high:
        raise InputError(f"range [{low:g}, {high:g}] has low > high")
    return low, high


@dataclasses.dataclass(frozen=True)
class Task:
    """One restoration task at one level: what degrades the test images and how they are scored.

    name: one of TASKS. channels: channels of the ground truth (SR test sets: 3, grey files
    repeated; demosaicing: 3). scale: the SR factor (1 for other tasks). sigma: noise level on
    the 0..255 scale (denoise). quality: JPEG quality (jpeg).
    """

    name: str
    channels: int = 3
    scale: int = 1
    sigma: float | None = None
    quality: int | None = None

    def __post_init__(self):
        if self.name not in TASKS:
            raise InputError(f"unknown task {self.name!r}; choose one of {', '.join(TASKS)}")
        if self.channels not in (1, 3):
            raise InputError(f"channels must be 1 or 3, got {self.channels}")
        if self.name == "sr" and (not isinstance(self.scale, int) or self.scale < 2):
            raise InputError(f"SR needs an integer scale >= 2, got {self.scale!r}")
        if self.name != "sr" and self.scale != 1:
            raise InputError(f"only SR has a scale; {self.name} has scale 1, got {self.scale}")
        if self.name == "denoise" and not _is_number(self.sigma):
            raise InputError(f"denoising needs one noise level sigma, got {self.sigma!r}")
        if self.name == "jpeg" and not (_is_number(self.quality) and 1 <= self.quality <= 100):
            raise InputError(f"JPEG needs one quality in 1..100, got {self.quality!r}")
        if self.name == "demosaic" and self.channels != 3:
            raise InputError("demosaicing is scored on RGB images (3 channels)")

    @property
    def baseline_name(self) -> str:
        return BASELINE_NAMES[self.name]

    def describe(self) -> str:
        """e.g. 'sr x2: MATLAB bicubic LR; PSNR/SSIM on Y, crop 2'."""
        space = "grey" if self.channels == 1 else "RGB"
        if self.name == "sr":
            return f"sr x{self.scale}: MATLAB bicubic LR; PSNR/SSIM on Y, crop {self.scale}"
        if self.name == "denoise":
            return (f"denoise sigma {self.sigma:g}: Gaussian noise, seed {TEST_NOISE_SEED}, "
                    f"unclipped; PSNR/SSIM on {space}")
        if self.name == "jpeg":
            return f"jpeg q{self.quality}: Pillow JPEG; PSNR/SSIM/PSNR-B on {space}"
        return "demosaic: RGGB mosaic, 3-channel masked; PSNR/SSIM on RGB"


def task_from_config(task_config, sigma=None, quality=None, hardest: bool = False) -> Task:
    """The Task a model trained on `task_config` (a config's `task` section) is scored on.

    sigma / quality override the config's level. A blind model (its level a [low, high]
    range) needs the level given, unless `hardest`, which takes the hardest end of the range
    (largest sigma, lowest quality: what training validation reports).
    """
    name = task_config.name

    def level(given, configured, hardest_end):
        if given is not None:
            return given
        low, high = level_range(configured)
        if low == high or hardest:
            return hardest_end(low, high)
        raise InputError(f"the model was trained on a range of {name} levels "
                         f"[{low:g}, {high:g}]; give the level to score")

    return Task(
        name=name,
        channels=3 if name == "demosaic" else int(task_config.channels),
        scale=int(task_config.scale) if name == "sr" else 1,
        sigma=float(level(sigma, task_config.sigma, max)) if name == "denoise" else None,
        quality=int(level(quality, task_config.quality, min)) if name == "jpeg" else None,
    )


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


def degrade_input(clean: np.ndarray, task_name: str, level: float, seed) -> np.ndarray:
    """A same-size task's input from a clean uint8 (H, W, C) image: float32 in [0, 1].

    denoise: + N(0, (level/255)²) from `np.random.default_rng(seed)`, not clipped; jpeg: Pillow
    JPEG at quality `level`; demosaic: the RGGB mosaic in 3-channel masked form (level unused).
    """
    if task_name == "denoise":
        noisy = degradations.add_gaussian_noise(clean.astype(np.float64) / 255.0, level, seed)
        return noisy.astype(np.float32)
    if task_name == "jpeg":
        return _unit(degradations.jpeg(clean, int(level)))
    if task_name == "demosaic":
        return _unit(degradations.mosaic_to_masked(degradations.bayer_mosaic(clean)))
    raise ValueError(f"no same-size degradation for task {task_name!r}")


def degrade(image: np.ndarray, task: Task) -> Degraded:
    """uint8 (H, W, C) ground truth → the `Degraded` example of `task` (module table)."""
    image = np.asarray(image)
    if image.dtype != np.uint8 or image.ndim != 3 or image.shape[-1] != task.channels:
        raise InputError(f"the {task.name} protocol takes uint8 (H, W, {task.channels}) ground "
                         f"truth, got {image.dtype} {image.shape}")
    if task.name == "sr":
        target, lr = degradations.bicubic_pair(image, task.scale)
        return Degraded(_unit(lr), target, bicubic_baseline(target, task.scale), lr)
    level = task.sigma if task.name == "denoise" else task.quality
    x = degrade_input(image, task.name, level, TEST_NOISE_SEED)
    if task.name == "demosaic":
        mosaic = degradations.bayer_mosaic(image)
        baseline = degradations.bilinear_demosaic(mosaic) / 255.0
        return Degraded(x, image, baseline, degradations.mosaic_to_masked(mosaic))
    return Degraded(x, image, x, round_to_uint8(x * 255.0))


def bicubic_baseline(hr: np.ndarray, scale: int) -> np.ndarray:
    """The bicubic row of SR tables: uint8 HR (modcropped) → down by 1/s → up by s, each a
    float MATLAB imresize rounded once to uint8 (im2uint8(imresize(im2double(x)))), which
    reproduces the reference numbers (Set5 x2 33.68 dB / 0.9305; see docs/metrics.md). The
    model's own LR input is MATLAB's uint8 imresize (rounded per pass, = the published LR
    files); the two LR images differ by one grey level in a few pixels."""
    lr = round_to_uint8(imresize_np(hr.astype(np.float64), 1 / scale))
    return round_to_uint8(imresize_np(lr.astype(np.float64), scale))


def score(restored, target, task: Task) -> dict:
    """The metrics of record of one restored image (float in [0, 1] or uint8) against its uint8
    target: SR on Y with `scale` pixels cropped from every border; other tasks on all channels
    (RGB or grey), uncropped; JPEG adds PSNR-B. Returns {'psnr', 'ssim'[, 'psnr_b']} floats."""
    if task.name == "sr":
        protocol = dict(crop_border=task.scale, y_channel=True)
    else:
        protocol = dict(crop_border=0, y_channel=False)
    result = {"psnr": metrics.psnr(restored, target, **protocol),
              "ssim": metrics.ssim(restored, target, **protocol)}
    if task.name == "jpeg":
        result["psnr_b"] = metrics.psnr_b(restored, target, **protocol)
    return {key: float(value) for key, value in result.items()}


def _unit(image: np.ndarray) -> np.ndarray:
    return np.asarray(image, np.float32) / 255.0
