"""Restoration tasks as values: one frozen dataclass per task, parsed once from `config.task`.

    task = task_from_config(config.task)     # e.g. Denoise(channels=1, sigma=(0.0, 55.0))
    scored = task.at_level(hardest=True)      # Denoise(channels=1, sigma=55.0)
    example = scored.degrade(uint8_image)     # protocol.Degraded: input, target, baseline

Every task is data plus pure functions (optax's style: no "which task?" below this module).
What a task provides (`Task`): `name`, `channels` (of the ground truth), `in_channels` /
`out_channels` / `scale` (what a model for it maps), `alignment` (crops and tiles start on
multiples of it), `self_ensemble` (whether x8 flips keep the task), `colour_rule` (whether a
grey image may go into a colour model and back), `baseline_name`, `baseline_is_input`;
`input_size(patch)` (crop geometry), `training_input(clean, rng, given)` (the training
degradation, blind ranges drawn per example), `at_level(level, hardest)` (a fixed-level task),
`degrade(image)` (the test degradation and the baseline), `score(restored, target)`,
`model_input(x)` and `describe()`. A new task is one class with these (`TaskDefaults` gives
the same-size ones; tests/test_tasks.py trains a Poisson-noise task defined inside the test);
pass it to `task_from_config(..., known=...)` or straight to
`train_and_evaluate(config, workdir, task=...)`.

| task     | input the model sees                         | baseline (row of tables) | scored on       |
|----------|----------------------------------------------|--------------------------|-----------------|
| SR       | MATLAB uint8 bicubic LR of modcrop(HR, s)    | bicubic, rounded once    | Y, crop = scale |
| Denoise  | clean + N(0, (σ/255)²), seed 0, not clipped  | the noisy input          | RGB or grey     |
| JPEG     | Pillow JPEG at quality q, decoded            | the JPEG input           | + PSNR-B        |
| Demosaic | RGGB mosaic in 3-channel masked form         | bilinear demosaic        | RGB             |

Training degrades its random crops with the same functions as the test (other seeds and, for
blind models, a level drawn from [low, high] per example: sigma uniform, quality an integer).
"""
import dataclasses
from typing import ClassVar, Protocol

import numpy as np

from jaxrestore import protocol
from jaxrestore.data import degradations
from jaxrestore.errors import InputError
from jaxrestore.ops.quantize import round_to_uint8


class Task(Protocol):
    """What every task provides (module doc); images are NHWC / HWC."""

    name: ClassVar[str]
    baseline_name: ClassVar[str]
    channels: int

    @property
    def scale(self) -> int: ...

    @property
    def in_channels(self) -> int: ...

    def input_size(self, patch: int) -> int: ...

    def training_input(self, clean: np.ndarray, rng: np.random.Generator,
                       given: np.ndarray | None = None) -> np.ndarray: ...

    def at_level(self, level=None, hardest: bool = False) -> "Task": ...

    def degrade(self, image: np.ndarray) -> protocol.Degraded: ...

    def score(self, restored, target: np.ndarray) -> dict: ...

    def describe(self) -> str: ...


def _is_number(value) -> bool:
    return isinstance(value, int | float | np.integer | np.floating) and not isinstance(value, bool)


def _space(channels: int) -> str:
    return "grey" if channels == 1 else "RGB"


def _unit(image: np.ndarray) -> np.ndarray:
    return np.asarray(image, np.float32) / 255.0


def _fixed_level(task, level, hardest: bool, hardest_end):
    """`task` with its level (the field `task.level`) fixed: `level` if given, else its only
    value, else (with `hardest`) the hardest end of its range."""
    field = task.level
    if level is None:
        low, high = protocol.level_range(getattr(task, field))
        if low != high and not hardest:
            raise InputError(f"the model was trained on a range of {task.name} levels "
                             f"[{low:g}, {high:g}]; give the level to score")
        level = hardest_end(low, high)
    return dataclasses.replace(task, **{field: level})


@dataclasses.dataclass(frozen=True)
class TaskDefaults:
    """What a task is unless it says otherwise: same-size restoration of its ground truth's
    `channels` (1 or 3), whose baseline is its own input (`test_input(image)`, which a
    same-size task defines), scored on every channel. A task with a level names its field in
    `level` and the valid values in `level_bounds` ((low, high) pairs are blind ranges)."""

    channels: int = 3
    scale: ClassVar[int] = 1
    level: ClassVar[str | None] = None
    level_bounds: ClassVar[tuple] = (-np.inf, np.inf)
    alignment: ClassVar[int] = 1
    self_ensemble: ClassVar[bool] = True
    colour_rule: ClassVar[bool] = True
    baseline_is_input: ClassVar[bool] = True

    def __post_init__(self):
        if self.channels not in (1, 3):
            raise InputError(f"channels must be 1 or 3, got {self.channels}")
        if self.level is not None:
            value, (low, high) = getattr(self, self.level), self.level_bounds
            ends = [value] if _is_number(value) else (
                protocol.level_range(value) if np.ndim(value) == 1 else [None])
            if not all(_is_number(end) and low <= end <= high for end in ends):
                raise InputError(f"{self.name} needs one {self.level} in [{low:g}, {high:g}] "
                                 f"or a (low, high) range of them, got {value!r}")

    @property
    def in_channels(self) -> int:
        return self.channels

    @property
    def out_channels(self) -> int:
        return self.channels

    def input_size(self, patch: int) -> int:
        """Model input side of a training crop of `patch` target pixels."""
        return patch // self.scale

    def at_level(self, level=None, hardest: bool = False):
        """The task at one level (here: itself, it has none)."""
        return self

    def model_input(self, x: np.ndarray) -> np.ndarray:
        """An image in the task's input form → the model's input (here: unchanged)."""
        return x

    def degrade(self, image: np.ndarray) -> protocol.Degraded:
        """uint8 (H, W, C) ground truth → its test example (the baseline is the input)."""
        x = self.test_input(image)
        return protocol.Degraded(x, image, x, round_to_uint8(x * 255.0))

    def score(self, restored, target: np.ndarray) -> dict:
        """PSNR / SSIM on every channel (RGB or grey), uncropped."""
        return protocol.scores(restored, target, crop_border=0, y_channel=False)


@dataclasses.dataclass(frozen=True)
class SR(TaskDefaults):
    """Super-resolution by `scale` (≥ 2) of RGB ground truth (grey test files are repeated)."""

    scale: int = 2
    name: ClassVar[str] = "sr"
    baseline_name: ClassVar[str] = "bicubic"
    baseline_is_input: ClassVar[bool] = False

    def __post_init__(self):
        super().__post_init__()
        if not isinstance(self.scale, int | np.integer) or self.scale < 2:
            raise InputError(f"SR needs an integer scale >= 2, got {self.scale!r}")

    def training_input(self, clean, rng, given=None) -> np.ndarray:
        """The LR crop `given` (whole-image MATLAB bicubic LR, cropped and augmented with the
        HR crop `clean`), float32 in [0, 1]; draws nothing from `rng`."""
        return _unit(given)

    def degrade(self, image: np.ndarray) -> protocol.Degraded:
        """uint8 HR → modcropped target, MATLAB uint8 bicubic LR input, bicubic baseline."""
        target, lr = degradations.bicubic_pair(image, self.scale)
        return protocol.Degraded(_unit(lr), target, protocol.bicubic_baseline(target, self.scale),
                                 lr)

    def score(self, restored, target: np.ndarray) -> dict:
        """PSNR / SSIM on Y with `scale` pixels cropped from every border."""
        return protocol.scores(restored, target, crop_border=self.scale, y_channel=True)

    def describe(self) -> str:
        return f"sr x{self.scale}: MATLAB bicubic LR; PSNR/SSIM on Y, crop {self.scale}"


@dataclasses.dataclass(frozen=True)
class Denoise(TaskDefaults):
    """Additive Gaussian noise of `sigma` (0..255 scale; a (low, high) range: blind), unclipped."""

    sigma: float | tuple = 25.0
    name: ClassVar[str] = "denoise"
    baseline_name: ClassVar[str] = "noisy input"
    level: ClassVar[str] = "sigma"

    def noisy(self, clean: np.ndarray, sigma: float, seed) -> np.ndarray:
        """clean uint8 + N(0, (sigma/255)²) from `np.random.default_rng(seed)`: float32."""
        noisy = degradations.add_gaussian_noise(clean.astype(np.float64) / 255.0, sigma, seed)
        return noisy.astype(np.float32)

    def training_input(self, clean, rng, given=None) -> np.ndarray:
        low, high = protocol.level_range(self.sigma)
        sigma = rng.uniform(low, high) if high > low else low
        return self.noisy(clean, sigma, int(rng.integers(2**63)))

    def at_level(self, level=None, hardest: bool = False) -> "Denoise":
        return _fixed_level(self, None if level is None else float(level), hardest, max)

    def test_input(self, image: np.ndarray) -> np.ndarray:
        if not _is_number(self.sigma):
            raise InputError(f"the test degradation needs one sigma, not {self.sigma!r}")
        return self.noisy(image, self.sigma, protocol.TEST_NOISE_SEED)

    def describe(self) -> str:
        return (f"denoise sigma {self.sigma:g}: Gaussian noise, seed {protocol.TEST_NOISE_SEED}, "
                f"unclipped; PSNR/SSIM on {_space(self.channels)}")


@dataclasses.dataclass(frozen=True)
class JPEG(TaskDefaults):
    """Pillow JPEG compression at `quality` (1..100; a (low, high) range: blind)."""

    quality: int | tuple = 10
    name: ClassVar[str] = "jpeg"
    baseline_name: ClassVar[str] = "JPEG input"
    level: ClassVar[str] = "quality"
    level_bounds: ClassVar[tuple] = (1, 100)

    def training_input(self, clean, rng, given=None) -> np.ndarray:
        low, high = protocol.level_range(self.quality)
        quality = rng.integers(int(low), int(high) + 1)
        rng.integers(2**63)  # the seed every same-size task draws (keeps the streams aligned)
        return _unit(degradations.jpeg(clean, int(quality)))

    def at_level(self, level=None, hardest: bool = False) -> "JPEG":
        return _fixed_level(self, None if level is None else int(level), hardest,
                            lambda low, high: int(low))

    def test_input(self, image: np.ndarray) -> np.ndarray:
        return _unit(degradations.jpeg(image, int(self.quality)))

    def score(self, restored, target: np.ndarray) -> dict:
        """PSNR / SSIM / PSNR-B on every channel, uncropped."""
        return protocol.scores(restored, target, crop_border=0, y_channel=False, psnr_b=True)

    def describe(self) -> str:
        return f"jpeg q{self.quality}: Pillow JPEG; PSNR/SSIM/PSNR-B on {_space(self.channels)}"


@dataclasses.dataclass(frozen=True)
class Demosaic(TaskDefaults):
    """RGGB Bayer demosaicing; the model sees the mosaic in 3-channel masked form."""

    name: ClassVar[str] = "demosaic"
    baseline_name: ClassVar[str] = "bilinear demosaic"
    alignment: ClassVar[int] = 2           # tiles and crops keep the RGGB phase
    self_ensemble: ClassVar[bool] = False  # flips would change the Bayer pattern
    colour_rule: ClassVar[bool] = False    # a 1-channel input is a mosaic, not a grey image
    baseline_is_input: ClassVar[bool] = False

    def __post_init__(self):
        if self.channels != 3:
            raise InputError("demosaicing is scored on RGB images (3 channels)")

    def training_input(self, clean, rng, given=None) -> np.ndarray:
        rng.integers(2**63)  # the seed every same-size task draws (keeps the streams aligned)
        return self.test_input(clean)

    def test_input(self, image: np.ndarray) -> np.ndarray:
        return _unit(degradations.mosaic_to_masked(degradations.bayer_mosaic(image)))

    def model_input(self, x: np.ndarray) -> np.ndarray:
        """A 1-channel RGGB mosaic → the 3-channel masked form; 3 channels: already that."""
        return degradations.mosaic_to_masked(x) if x.shape[-1] == 1 else x

    def degrade(self, image: np.ndarray) -> protocol.Degraded:
        mosaic = degradations.bayer_mosaic(image)
        masked = degradations.mosaic_to_masked(mosaic)  # test_input's, computed once
        baseline = degradations.bilinear_demosaic(mosaic) / 255.0
        return protocol.Degraded(_unit(masked), image, baseline, masked)

    def describe(self) -> str:
        return "demosaic: RGGB mosaic, 3-channel masked; PSNR/SSIM on RGB"


TASKS = {task.name: task for task in (SR, Denoise, JPEG, Demosaic)}


def make_task(name: str, known: dict | None = None, **fields) -> Task:
    """The task class named `name` (of `known`, default TASKS) built from those of `fields` it
    has (others are ignored: a config section holds every task's fields); InputError (one
    line) for an unknown name or bad values."""
    known = TASKS if known is None else known
    if name not in known:
        raise InputError(f"unknown task {name!r}; choose one of {', '.join(known)}")
    cls = known[name]
    names = {f.name for f in dataclasses.fields(cls)}
    return cls(**{key: _plain(value) for key, value in fields.items() if key in names})


def _plain(value):
    """A config value as the task stores it: lists (ConfigDict ranges) become tuples."""
    return tuple(value) if isinstance(value, list | tuple) else value


def task_from_config(task_config, known: dict | None = None) -> Task:
    """The task of a config's `task` section (`name` plus fields; blind ranges kept)."""
    fields = {key: value for key, value in task_config.items() if key != "name"}
    return make_task(task_config["name"], known, **fields)
