"""Benchmark evaluation by the field's protocol (../shared/CONVENTIONS.md).

For each ground-truth image of a folder: build the degraded input (`degrade`), restore it with a
`jaxrestore.inference.Restorer` (or not, for a baseline-only run), score the restored image and
the task's classical baseline with `jaxrestore.metrics.score`, and write

- `results.json`: the protocol (task, degradation, metric, inference: tiled or whole image),
  per-image scores and means, for the baseline and the model;
- `results.csv`: one row per image and a final `mean` row;
- `restored/<name>.png`: the model's outputs (uint8);
- `figures/<name>.png`: input, baseline, ours, ground truth with a zoomed crop (first few images).

`restore_files` is the mode without ground truth: image files in, restored PNGs out.

Degradations (the input the model sees, the baseline, the target):

| task     | input the model sees                 | baseline                   | metric          |
|----------|--------------------------------------|----------------------------|-----------------|
| sr       | MATLAB uint8 bicubic LR of modcrop   | bicubic (bicubic_baseline) | Y, crop = scale |
| denoise  | clean + N(0, σ/255), seed 0, float   | the noisy input            | RGB or grey     |
| jpeg     | Pillow JPEG at quality q, decoded    | the JPEG input             | + PSNR-B        |
| demosaic | RGGB mosaic, 3-channel masked        | bilinear demosaic          | RGB             |
"""
import csv
import dataclasses
import json
import math
import pathlib
import sys

import numpy as np
from tqdm import tqdm

from jaxrestore import figures, metrics
from jaxrestore.data import degradations, io
from jaxrestore.inference import InputError, Restorer, to_uint8
from jaxrestore.ops.imresize import imresize_np

TASKS = ("sr", "denoise", "jpeg", "demosaic")
BASELINES = {
    "sr": "bicubic",
    "denoise": "noisy input",
    "jpeg": "JPEG input",
    "demosaic": "bilinear demosaic",
}


@dataclasses.dataclass(frozen=True)
class Protocol:
    """What degrades the test images and how they are scored.

    channels: channels the ground truth is read with (SR test sets: 3, grey images repeated).
    """

    task: str
    channels: int = 3
    scale: int = 1
    sigma: float | None = None
    quality: int | None = None

    def __post_init__(self):
        if self.task not in TASKS:
            raise InputError(f"unknown task {self.task!r}; choose one of {', '.join(TASKS)}")
        if self.channels not in (1, 3):
            raise InputError(f"channels must be 1 or 3, got {self.channels}")
        if self.task == "sr" and (not isinstance(self.scale, int) or self.scale < 2):
            raise InputError(f"SR needs an integer scale ≥ 2 (--scale), got {self.scale!r}")
        if self.task == "denoise" and not _is_number(self.sigma):
            raise InputError(f"denoising needs one noise level (--sigma), got {self.sigma!r}")
        if self.task == "jpeg" and not _is_number(self.quality):
            raise InputError(f"JPEG needs one quality (--quality), got {self.quality!r}")
        if self.task == "demosaic" and self.channels != 3:
            raise InputError("demosaicing is scored on RGB images (channels 3)")

    @property
    def baseline(self) -> str:
        return BASELINES[self.task]

    def describe(self) -> str:
        """e.g. 'sr x2: MATLAB bicubic LR; PSNR/SSIM on Y, crop 2'."""
        space = "grey" if self.channels == 1 else "RGB"
        if self.task == "sr":
            return f"sr x{self.scale}: MATLAB bicubic LR; PSNR/SSIM on Y, crop {self.scale}"
        if self.task == "denoise":
            return (f"denoise sigma {self.sigma:g}: Gaussian noise, seed 0, unclipped; "
                    f"PSNR/SSIM on {space}")
        if self.task == "jpeg":
            return f"jpeg q{self.quality}: Pillow JPEG; PSNR/SSIM/PSNR-B on {space}"
        return "demosaic: RGGB mosaic, 3-channel masked; PSNR/SSIM on RGB"


def _is_number(value) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def protocol_for(task_config, task=None, scale=None, sigma=None, quality=None) -> Protocol:
    """The protocol for a model trained on `task_config` (a config's `task` section).

    Arguments left None take the checkpoint's values. Asking for another task, or another SR
    scale, than the checkpoint restores is an InputError. A blind model (sigma or quality a
    [low, high] range) needs the level given explicitly.
    """
    trained = task_config.name
    if task is not None and task != trained:
        raise InputError(f"the checkpoint restores task {trained!r}, not {task!r}")
    if trained == "sr" and scale is not None and scale != task_config.scale:
        raise InputError(f"the checkpoint is for SR x{task_config.scale}, not x{scale}")
    for option, value, applies_to in (("--scale", scale, "sr"), ("--sigma", sigma, "denoise"),
                                      ("--quality", quality, "jpeg")):
        if value is not None and trained != applies_to:
            raise InputError(f"{option} is for {applies_to} checkpoints; this one restores "
                             f"{trained!r}")
    return Protocol(
        task=trained,
        channels=3 if trained == "demosaic" else int(task_config.channels),
        scale=int(task_config.scale) if trained == "sr" else 1,
        sigma=(sigma if sigma is not None else task_config.sigma) if trained == "denoise" else None,
        quality=(quality if quality is not None else task_config.quality)
        if trained == "jpeg" else None,
    )


@dataclasses.dataclass
class Example:
    """A test image through the protocol: model input, baseline and ground truth.

    input: float32 HxWxC in [0, 1] (noisy inputs are not clipped); baseline: uint8 or float,
    the target's shape; target: uint8 HxWxC; shown: the input as a uint8 picture.
    """

    input: np.ndarray
    baseline: np.ndarray
    target: np.ndarray
    shown: np.ndarray


def degrade(image: np.ndarray, protocol: Protocol) -> Example:
    """uint8 HxWxC ground truth → Example by the CONVENTIONS protocol of `protocol.task`."""
    if protocol.task == "sr":
        target, lr = degradations.bicubic_pair(image, protocol.scale)
        baseline = bicubic_baseline(target, protocol.scale)
        return Example(_unit(lr), baseline, target, lr)
    if protocol.task == "denoise":
        noisy = degradations.add_gaussian_noise(_unit(image), protocol.sigma, seed=0)
        noisy = noisy.astype(np.float32)
        return Example(noisy, noisy, image, to_uint8(noisy))
    if protocol.task == "jpeg":
        compressed = degradations.jpeg(image, protocol.quality)
        return Example(_unit(compressed), compressed, image, compressed)
    mosaic = degradations.bayer_mosaic(image)
    masked = degradations.mosaic_to_masked(mosaic)
    baseline = degradations.bilinear_demosaic(_unit(mosaic))
    return Example(_unit(masked), baseline, image, masked)


def bicubic_baseline(hr: np.ndarray, scale: int) -> np.ndarray:
    """The bicubic row of SR tables: uint8 HR (modcropped) → down by 1/s → up by s, each a
    float MATLAB imresize rounded once to uint8 (im2uint8(imresize(im2double(x)))), which
    reproduces the reference numbers (Set5 x2 33.68 dB / 0.9305; see docs/metrics.md). The
    model's own LR input is MATLAB's uint8 imresize (rounded per pass, = the published LR
    files); the two LR images differ by one grey level in a few pixels."""
    lr = _round_uint8(imresize_np(hr.astype(np.float64), 1 / scale))
    return _round_uint8(imresize_np(lr.astype(np.float64), scale))


def _round_uint8(image: np.ndarray) -> np.ndarray:
    """0..255 floats → uint8, clamped and rounded half up (MATLAB im2uint8)."""
    return np.clip(np.floor(image + 0.5), 0, 255).astype(np.uint8)


def _unit(image: np.ndarray) -> np.ndarray:
    return np.asarray(image, np.float32) / 255.0


def _figure_panels(example: Example, restored, protocol: Protocol, scores):
    """(label, uint8 image) columns: input, baseline (when it is not the input), ours, GT."""
    shown = example.shown
    if protocol.task == "sr":  # show the LR pixels at the HR size
        shown = np.repeat(np.repeat(shown, protocol.scale, 0), protocol.scale, 1)
    baseline = example.baseline
    baseline = to_uint8(baseline) if baseline.dtype != np.uint8 else baseline

    def label(name, key):
        return f"{name} {scores[key]['psnr']:.2f} dB" if key in scores else name

    panels = [(label("input", "baseline") if protocol.task in ("denoise", "jpeg") else "input",
               shown)]
    if protocol.task in ("sr", "demosaic"):
        panels.append((label(protocol.baseline, "baseline"), baseline))
    if restored is not None:
        panels.append((label("ours", "model"), to_uint8(restored)))
    panels.append(("ground truth", example.target))
    return panels, figures.worst_box(baseline, example.target)


def evaluate(data, protocol: Protocol, restorer=None, out_dir=None, figure_count: int = 3,
             progress: bool = True, checkpoint: str | None = None) -> dict:
    """Scores every image under `data` (a folder or one file); returns the results dict.

    restorer: a Restorer for `protocol` (None: baseline only). out_dir: where results.json,
    results.csv, restored/ and figures/ go (None: write nothing).
    """
    paths = io.list_images(data)
    if not paths:
        raise InputError(f"no images found in {data}")
    out = pathlib.Path(out_dir) if out_dir is not None else None
    if out is not None:
        (out / "restored").mkdir(parents=True, exist_ok=True)
        if figure_count:
            (out / "figures").mkdir(parents=True, exist_ok=True)
    rows = []
    for index, path in enumerate(tqdm(paths, desc="images", unit="img", disable=not progress,
                                      file=sys.stderr)):
        path = pathlib.Path(path)
        example = degrade(io.read_image(path, protocol.channels), protocol)
        scores = {"baseline": score_image(example.baseline, example.target, protocol)}
        restored, tiled = None, False
        if restorer is not None:
            tiled = restorer.is_tiled(example.input)
            restored = restorer.restore([example.input], progress=progress)[0]
            scores["model"] = score_image(restored, example.target, protocol)
            if out is not None:
                io.write_image(out / "restored" / f"{path.stem}.png", to_uint8(restored))
        if out is not None and index < figure_count:
            panels, box = _figure_panels(example, restored, protocol, scores)
            figures.side_by_side(panels, box).save(out / "figures" / f"{path.stem}.png")
        rows.append({"name": path.stem, "size": list(example.target.shape[:2]),
                     "tiled": tiled, **scores})
    results = {
        "protocol": {
            **dataclasses.asdict(protocol),
            "description": protocol.describe(),
            "baseline": protocol.baseline,
            "data": str(data),
            "checkpoint": checkpoint,
            "inference": restorer.describe() if restorer is not None else None,
            "tiled_images": sum(row["tiled"] for row in rows),
        },
        "images": rows,
        "mean": {key: mean_scores([row[key] for row in rows]) for key in ("baseline", "model")
                 if key in rows[0]},
    }
    if out is not None:
        write_results(results, out)
    return results


def score_image(restored, target, protocol: Protocol) -> dict:
    """The metrics of record of one restored image under `protocol`, as plain floats."""
    return {k: float(v) for k, v in
            metrics.score(restored, target, protocol.task, protocol.scale).items()}


def mean_scores(score_dicts) -> dict:
    """Per-metric means of a list of `score_image` dicts."""
    return {key: float(np.mean([s[key] for s in score_dicts])) for key in score_dicts[0]}


def write_results(results: dict, out_dir) -> None:
    """results.json and results.csv in `out_dir`."""
    out = pathlib.Path(out_dir)
    (out / "results.json").write_text(json.dumps(results, indent=2) + "\n")
    methods = list(results["mean"])
    columns = [(method, key) for method in methods for key in results["mean"][method]]
    with open(out / "results.csv", "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["image"] + [f"{method}_{key}" for method, key in columns])
        for row in results["images"] + [{"name": "mean", **results["mean"]}]:
            writer.writerow([row["name"]] + [f"{row[m][k]:.6f}" for m, k in columns])


def format_table(results: dict, model_name: str = "ours") -> str:
    """The per-image table (baseline and model side by side), a mean row and a summary with one
    row per method, preceded by the protocol lines."""
    protocol = results["protocol"]
    methods = list(results["mean"])
    names = {"baseline": protocol["baseline"], "model": model_name}
    keys = list(results["mean"][methods[0]])
    width = max(12, *(len(row["name"]) for row in results["images"]))

    def cells(scores):
        return "  ".join(_format_value(key, scores[key]) for key in keys)

    header_cells = "  ".join(f"{key.upper():>8}" for key in keys)
    lines = [f"protocol: {protocol['description']}"]
    if protocol["inference"] is not None:
        tiled = protocol["tiled_images"]
        lines.append(f"inference: {protocol['inference']} "
                     f"({tiled} of {len(results['images'])} images tiled)")
    lines.append(f"{'image':<{width}}  " + "  |  ".join(
        f"{names[m]:^{len(header_cells)}}" for m in methods))
    lines.append(f"{'':<{width}}  " + "  |  ".join(header_cells for _ in methods))
    for row in results["images"] + [{"name": "mean", **results["mean"]}]:
        if row["name"] == "mean":
            lines.append("-" * len(lines[-1]))
        lines.append(f"{row['name']:<{width}}  " + "  |  ".join(cells(row[m]) for m in methods))
    lines.append("")
    lines.append(f"{'method':<{width}}  {header_cells}")
    for method in methods:
        lines.append(f"{names[method]:<{width}}  {cells(results['mean'][method])}")
    return "\n".join(lines)


def _format_value(key: str, value: float) -> str:
    if math.isinf(value):
        return f"{'inf':>8}"
    return f"{value:8.4f}" if key == "ssim" else f"{value:8.2f}"


def restore_files(restorer: Restorer, paths, out_dir, progress: bool = True) -> list:
    """Restores image files (no ground truth) into `out_dir`/<name>.png; returns the paths.

    Files are read with the model's channels (grey → RGB repeats the channel; see
    jaxrestore.data.io.read_image for colour → grey, RGBA and 16-bit). A demosaicing model
    takes single-channel RGGB mosaics.
    """
    out = pathlib.Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    demosaic = restorer.config.task.name == "demosaic"
    written = []
    for path in tqdm(paths, desc="images", unit="img", disable=not progress, file=sys.stderr):
        path = pathlib.Path(path)
        image = io.read_image(path, None if demosaic else restorer.channels)
        if demosaic:
            if image.shape[-1] != 1:
                raise InputError(f"{path}: a demosaicing model takes a single-channel RGGB "
                                 f"mosaic, not a {image.shape[-1]}-channel image")
            image = degradations.mosaic_to_masked(image)
        restored = restorer.restore([image], progress=progress)[0]
        target = out / f"{path.stem}.png"
        io.write_image(target, to_uint8(restored))
        written.append(target)
    return written
