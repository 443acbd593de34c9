"""Per-task training examples and validation images, from decoded uint8 Samples.

One training example (all images HWC float32 in [0, 1], see the batch contract in
configs/common.py), drawn from a per-example generator:

- sr: the LR of every whole image is computed once (`prepare`: modcrop + MATLAB bicubic, uint8,
  as IGNN/EDSR pre-generate DIV2K's LR; sources that ship their own LR keep it); a random LR
  crop of patch_size / scale and the aligned HR crop of patch_size (HR origin = scale x LR
  origin) are taken, augmented identically, and IGNN's son image is computed from the augmented
  LR crop (`son_image`: float MATLAB bicubic by 1 / graph_scale, clamped, not rounded).
- denoise: a clean crop, augmented, plus N(0, (sigma/255)^2) noise, not clipped (so the input
  may leave [0, 1] slightly); sigma fixed, or uniform in [low, high] per example (blind).
- jpeg: a clean crop, augmented, Pillow-encoded at quality q (fixed, or an integer uniform in
  [low, high] per example) and decoded; grey for channels = 1.
- demosaic: a clean RGB crop, augmented, then its RGGB mosaic in 3-channel masked form
  (augmenting before mosaicking keeps R on the even/even sites).

Validation images are whole images degraded by the evaluation protocol: SR `bicubic_pair`;
noise from seed 0; for ranges, the hardest end (largest sigma, lowest quality).
"""
from typing import Dict, List, Tuple

import numpy as np

from jaxrestore.data import augment, degradations
from jaxrestore.data.sources import Sample

TASKS = ("sr", "denoise", "jpeg", "demosaic")


def value_range(value) -> Tuple[float, float]:
    """A fixed number -> (v, v); a [low, high] pair -> (low, high)."""
    if np.ndim(value) == 0:
        return float(value), float(value)
    low, high = (float(v) for v in value)
    if low > high:
        raise ValueError(f"range [{low}, {high}] has low > high")
    return low, high


def check_config(config) -> None:
    """Raises ValueError (one line) for task/data settings the pipeline cannot serve."""
    task, data = config.task, config.data
    if task.name not in TASKS:
        raise ValueError(f"unknown task.name {task.name!r}; use one of {TASKS}")
    if task.channels not in (1, 3):
        raise ValueError(f"task.channels must be 1 or 3, got {task.channels}")
    if task.name == "demosaic" and task.channels != 3:
        raise ValueError("demosaicing needs task.channels = 3")
    if data.son_image and task.name != "sr":
        raise ValueError("data.son_image (IGNN's son image) needs task.name = 'sr'")
    if task.name == "sr" and data.patch_size % task.scale:
        raise ValueError(f"data.patch_size {data.patch_size} is not a multiple of the scale "
                         f"{task.scale}")
    value_range(task.sigma)
    value_range(task.quality)


def prepare(samples: List[Sample], config) -> List[Sample]:
    """SR: give every sample its whole-image uint8 LR (modcrop + MATLAB bicubic) once;
    other tasks: unchanged."""
    if config.task.name != "sr":
        return samples
    out = []
    for s in samples:
        if s.lr is None:
            hr, lr = degradations.bicubic_pair(s.image, config.task.scale)
            s = Sample(s.name, hr, lr)
        out.append(s)
    return out


def fits(sample: Sample, config) -> bool:
    """Whether a training crop of config.data.patch_size fits in the sample."""
    return _crop_range(sample, config) is not None


def _crop_range(sample, config):
    """Number of valid crop origins (rows, cols), on the LR grid for SR; None if none fit."""
    patch = config.data.patch_size
    if config.task.name == "sr":
        s, lp = config.task.scale, patch // config.task.scale
        rows = min(sample.lr.shape[0] - lp, (sample.image.shape[0] - patch) // s) + 1
        cols = min(sample.lr.shape[1] - lp, (sample.image.shape[1] - patch) // s) + 1
    else:
        rows = sample.image.shape[0] - patch + 1
        cols = sample.image.shape[1] - patch + 1
    return (rows, cols) if rows > 0 and cols > 0 else None


def _degrade(clean: np.ndarray, task, value: float, seed: int) -> np.ndarray:
    """Clean uint8 (H, W, C) -> the task's float32 input in [0, 1] (noise: unclipped)."""
    if task.name == "denoise":
        x = degradations.add_gaussian_noise(clean.astype(np.float64) / 255.0, value, seed)
        return np.asarray(x, np.float32)
    if task.name == "jpeg":
        return degradations.jpeg(clean, int(value)).astype(np.float32) / 255.0
    if task.name == "demosaic":
        masked = degradations.mosaic_to_masked(degradations.bayer_mosaic(clean))
        return masked.astype(np.float32) / 255.0
    raise ValueError(f"no degradation for task {task.name!r}")


def _son(lr: np.ndarray, graph_scale: int) -> np.ndarray:
    """LR (h, w, C) float32 in [0, 1] -> IGNN's son image (h/g, w/g, C) float32 in [0, 1]."""
    return degradations.son_image(lr, graph_scale, pixel_range=1.0)


def training_example(samples: List[Sample], config, rng: np.random.Generator
                     ) -> Dict[str, np.ndarray]:
    """One random training example drawn with `rng` from the prepared samples (module doc)."""
    task, patch = config.task, config.data.patch_size
    sample = samples[int(rng.integers(len(samples)))]
    rows, cols = _crop_range(sample, config)
    y, x = int(rng.integers(rows)), int(rng.integers(cols))
    aug = augment.random_augmentation(rng, task.channels, config.data.channel_permutation)
    if task.name == "sr":
        s, lp = task.scale, patch // task.scale
        lr = augment.apply_augmentation(sample.lr[y:y + lp, x:x + lp], aug)
        hr = augment.apply_augmentation(sample.image[s * y:s * y + patch, s * x:s * x + patch], aug)
        example = {"input": lr.astype(np.float32) / 255.0, "target": hr.astype(np.float32) / 255.0}
        if config.data.son_image:
            example["son"] = _son(example["input"], task.graph_scale)
        return example
    clean = augment.apply_augmentation(sample.image[y:y + patch, x:x + patch], aug)
    if task.name == "denoise":
        low, high = value_range(task.sigma)
        value = rng.uniform(low, high) if high > low else low
    elif task.name == "jpeg":
        low, high = value_range(task.quality)
        value = rng.integers(int(low), int(high) + 1)
    else:
        value = 0.0
    seed = int(rng.integers(2**63))
    return {"input": _degrade(clean, task, value, seed),
            "target": clean.astype(np.float32) / 255.0}


def validation_example(sample: Sample, config) -> Dict[str, np.ndarray]:
    """A whole validation image degraded by the evaluation protocol: dict(name, input, target,
    [son]) with HWC float32 images in [0, 1]."""
    task = config.task
    if task.name == "sr":
        if sample.lr is None:
            hr, lr = degradations.bicubic_pair(sample.image, task.scale)
        else:
            hr, lr = sample.image, sample.lr
        example = {"name": sample.name, "input": lr.astype(np.float32) / 255.0,
                   "target": hr.astype(np.float32) / 255.0}
        if config.data.son_image:
            example["son"] = _son(example["input"], task.graph_scale)
        return example
    value = {"denoise": value_range(task.sigma)[1],
             "jpeg": value_range(task.quality)[0]}.get(task.name, 0.0)
    return {"name": sample.name, "input": _degrade(sample.image, task, value, 0),
            "target": sample.image.astype(np.float32) / 255.0}
