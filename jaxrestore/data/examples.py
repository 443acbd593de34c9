"""Random training examples of every task, from decoded uint8 Samples.

One training example is a dict of two HWC float32 arrays in [0, 1], `input` and `target` (the
batch contract of configs/common.py), drawn with a per-example generator: a sample with
probability proportional to its number of crop origins (every crop equally likely), then:

- sr: the LR of every whole image is computed once (`prepare`: modcrop + MATLAB bicubic, uint8,
  as IGNN/EDSR pre-generate DIV2K's LR; sources that ship their own LR keep it); a random LR
  crop of patch_size / scale and the aligned HR crop of patch_size (HR origin = scale x LR
  origin) are taken and augmented identically. (IGNN makes its son image from the LR crop
  inside the model, as the original's loader does from the augmented LR crop.)
- denoise / jpeg / demosaic (any same-size task): a clean crop, augmented, then degraded by
  the task's `training_input` (`jaxrestore.tasks`): noise not clipped, sigma fixed or uniform in
  [low, high] per example (blind); JPEG quality fixed or an integer uniform in [low, high];
  the RGGB mosaic in 3-channel masked form (augmenting before mosaicking keeps R on the
  even/even sites).
"""
import numpy as np

from jaxrestore.data import augment, degradations
from jaxrestore.data.io import Sample


def prepare(samples: list[Sample], scale: int) -> list[Sample]:
    """Upscaling tasks (`scale` > 1): give every sample its whole-image uint8 LR (modcrop +
    MATLAB bicubic) once, unless its source shipped one; same-size tasks: unchanged."""
    if scale == 1:
        return samples
    out = []
    for s in samples:
        if s.lr is None:
            hr, lr = degradations.bicubic_pair(s.image, scale)
            s = Sample(s.name, hr, lr)
        out.append(s)
    return out


def fits(sample: Sample, scale: int, patch: int) -> bool:
    """Whether a training crop of `patch` target pixels fits in the sample."""
    return _crop_range(sample, scale, patch) is not None


def _crop_range(sample, scale: int, patch: int):
    """Number of valid crop origins (rows, cols), on the input grid (LR for scale > 1); None if
    none fit."""
    given = sample.image if sample.lr is None else sample.lr
    rows = min(given.shape[0] - patch // scale, (sample.image.shape[0] - patch) // scale) + 1
    cols = min(given.shape[1] - patch // scale, (sample.image.shape[1] - patch) // scale) + 1
    return (rows, cols) if rows > 0 and cols > 0 else None


def _unit(image: np.ndarray) -> np.ndarray:
    return image.astype(np.float32) / 255.0


def crop_probabilities(samples: list[Sample], scale: int, patch: int) -> np.ndarray:
    """(len(samples),) probability of drawing each sample: its share of all crop origins, so
    that every crop of the training set is equally likely (as the original IGNN's DIV2K
    sub-images make it; docs/training.md #1a)."""
    counts = np.array([np.prod(_crop_range(s, scale, patch)) for s in samples], np.float64)
    return counts / counts.sum()


def training_example(samples: list[Sample], task, patch: int, channel_permutation: bool,
                     rng: np.random.Generator, probabilities: np.ndarray) -> dict[str, np.ndarray]:
    """One random training example of `task` (a `jaxrestore.tasks` task) drawn with `rng` from
    the prepared samples (module doc): crops of `patch` target pixels; `probabilities` are
    `crop_probabilities(samples, task.scale, patch)`."""
    sample = samples[int(rng.choice(len(samples), p=probabilities))]
    s = task.scale
    rows, cols = _crop_range(sample, s, patch)
    y, x = int(rng.integers(rows)), int(rng.integers(cols))
    aug = augment.random_augmentation(rng, task.channels, channel_permutation)
    given = None
    if sample.lr is not None:
        lp = patch // s
        given = augment.apply_augmentation(sample.lr[y:y + lp, x:x + lp], aug)
    clean = augment.apply_augmentation(sample.image[s * y:s * y + patch, s * x:s * x + patch], aug)
    return {"input": task.training_input(clean, rng, given), "target": _unit(clean)}
