"""Random training examples of every task, from decoded uint8 Samples.

One training example is a dict of two HWC float32 arrays in [0, 1], `input` and `target` (the
batch contract of configs/common.py), drawn with a per-example generator: a sample with
probability proportional to its number of crop origins (every crop equally likely), then:

- sr: the LR of every whole image is computed once (`prepare`: modcrop + MATLAB bicubic, uint8,
  as IGNN/EDSR pre-generate DIV2K's LR; sources that ship their own LR keep it); a random LR
  crop of patch_size / scale and the aligned HR crop of patch_size (HR origin = scale x LR
  origin) are taken and augmented identically. (IGNN makes its son image from the LR crop
  inside the model, as the original's loader does from the augmented LR crop.)
- denoise / jpeg / demosaic: a clean crop, augmented, then degraded by the protocol's
  `degrade_input` (`jaxrestore.protocol`): noise not clipped, sigma fixed or uniform in
  [low, high] per example (blind); JPEG quality fixed or an integer uniform in [low, high];
  the RGGB mosaic in 3-channel masked form (augmenting before mosaicking keeps R on the
  even/even sites).
"""
import numpy as np

from jaxrestore import protocol
from jaxrestore.data import augment, degradations
from jaxrestore.data.sources import Sample


def prepare(samples: list[Sample], config) -> list[Sample]:
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


def _unit(image: np.ndarray) -> np.ndarray:
    return image.astype(np.float32) / 255.0


def crop_probabilities(samples: list[Sample], config) -> np.ndarray:
    """(len(samples),) probability of drawing each sample: its share of all crop origins, so
    that every crop of the training set is equally likely (as the original IGNN's DIV2K
    sub-images make it; docs/training.md #1a)."""
    counts = np.array([np.prod(_crop_range(s, config)) for s in samples], np.float64)
    return counts / counts.sum()


def training_example(samples: list[Sample], config, rng: np.random.Generator,
                     probabilities: np.ndarray) -> dict[str, np.ndarray]:
    """One random training example drawn with `rng` from the prepared samples (module doc);
    `probabilities` are `crop_probabilities(samples, config)`."""
    task, patch = config.task, config.data.patch_size
    sample = samples[int(rng.choice(len(samples), p=probabilities))]
    rows, cols = _crop_range(sample, config)
    y, x = int(rng.integers(rows)), int(rng.integers(cols))
    aug = augment.random_augmentation(rng, task.channels, config.data.channel_permutation)
    if task.name == "sr":
        s, lp = task.scale, patch // task.scale
        lr = augment.apply_augmentation(sample.lr[y:y + lp, x:x + lp], aug)
        hr = augment.apply_augmentation(sample.image[s * y:s * y + patch, s * x:s * x + patch], aug)
        return {"input": _unit(lr), "target": _unit(hr)}
    clean = augment.apply_augmentation(sample.image[y:y + patch, x:x + patch], aug)
    if task.name == "denoise":
        low, high = protocol.level_range(task.sigma)
        level = rng.uniform(low, high) if high > low else low
    elif task.name == "jpeg":
        low, high = protocol.level_range(task.quality)
        level = rng.integers(int(low), int(high) + 1)
    else:
        level = 0.0
    seed = int(rng.integers(2**63))
    return {"input": protocol.degrade_input(clean, task.name, level, seed), "target": _unit(clean)}
