"""What an evaluation leaves behind: results.json / results.csv, the text table, restored images
and comparison figures.

- `results.json`: the protocol header (task, degradation, metric, inference: tiled or whole
  image, data and checkpoint), per-image scores and means, for the baseline and the model;
- `results.csv`: one row per image and a final `mean` row;
- `restored/<name>.png`: the model's outputs (uint8, as scored);
- `figures/<name>.png`: input, baseline, ours, ground truth with a zoomed crop (first few images).
"""
import csv
import json
import math
import pathlib

import numpy as np

from jaxrestore import figures, protocol
from jaxrestore.data import io
from jaxrestore.errors import InputError
from jaxrestore.ops.quantize import unit_to_uint8

RESULT_FILES = ("results.json", "results.csv", "restored", "figures")


def check_output_folder(out_dir, overwrite: bool) -> None:
    """Refuses (InputError) an output folder that is a file, or that holds earlier results
    unless `overwrite`."""
    out = pathlib.Path(out_dir)
    if out.exists() and not out.is_dir():
        raise InputError(f"output folder {out} is an existing file")
    earlier = [name for name in RESULT_FILES if (out / name).exists()]
    if earlier and not overwrite:
        raise InputError(f"{out} already holds results ({', '.join(earlier)}); choose another "
                         "output folder or allow overwriting")


def header(task, data, checkpoint=None, inference: str | None = None,
           tiled_images: int = 0, model: str | None = None) -> dict:
    """The protocol entry of results.json (`model`: the restoring model's display name)."""
    return {"task": task.name, "model": model, "channels": task.channels, "scale": task.scale,
            "sigma": getattr(task, "sigma", None), "quality": getattr(task, "quality", None),
            "description": task.describe(),
            "baseline": task.baseline_name, "data": str(data),
            "checkpoint": None if checkpoint is None else str(checkpoint),
            "inference": inference, "tiled_images": tiled_images}


class ImageWriter:
    """`on_image` hook of `jaxrestore.evaluate.evaluate`: writes restored/<name>.png and, for
    the first `figure_count` images, figures/<name>.png into `out_dir`; `written` lists the
    restored images written so far."""

    def __init__(self, out_dir, task, figure_count: int = 3):
        self.out = pathlib.Path(out_dir)
        self.task = task
        self.figures_left = figure_count
        self.written = []

    def __call__(self, name: str, degraded: protocol.Degraded, restored, row: dict) -> None:
        if restored is not None:
            io.write_image(self.out / "restored" / f"{name}.png", unit_to_uint8(restored))
            self.written.append(self.out / "restored" / f"{name}.png")
        if self.figures_left > 0:
            self.figures_left -= 1
            panels, box = _figure_panels(degraded, restored, self.task, row)
            path = self.out / "figures" / f"{name}.png"
            path.parent.mkdir(parents=True, exist_ok=True)
            figures.side_by_side(panels, box).save(path)


def _figure_panels(degraded: protocol.Degraded, restored, task, row: dict):
    """(label, uint8 image) columns: input, baseline (when it is not the input), ours, GT."""
    shown = degraded.shown
    if task.scale > 1:  # show the LR pixels at the HR size
        shown = np.repeat(np.repeat(shown, task.scale, 0), task.scale, 1)
    baseline = unit_to_uint8(degraded.baseline)

    def label(name, key):
        return f"{name} {row[key]['psnr']:.2f} dB" if key in row else name

    same_as_input = task.baseline_is_input
    panels = [(label("input", "baseline") if same_as_input else "input", shown)]
    if not same_as_input:
        panels.append((label(task.baseline_name, "baseline"), baseline))
    if restored is not None:
        panels.append((label("ours", "model"), unit_to_uint8(restored)))
    panels.append(("ground truth", degraded.target))
    return panels, figures.worst_box(baseline, degraded.target)


def write_results(results: dict, out_dir) -> None:
    """results.json and results.csv in `out_dir` (created if missing)."""
    out = pathlib.Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
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
    row per method, preceded by the protocol lines (results carry a `protocol` header)."""
    head = results["protocol"]
    methods = list(results["mean"])
    names = {"baseline": head["baseline"], "model": model_name}
    keys = list(results["mean"][methods[0]])
    width = max(12, *(len(row["name"]) for row in results["images"]))

    def cells(scores):
        return "  ".join(_format_value(key, scores[key]) for key in keys)

    header_cells = "  ".join(f"{key.upper():>8}" for key in keys)
    lines = [f"protocol: {head['description']}"]
    if head["inference"] is not None:
        lines.append(f"inference: {head['inference']} "
                     f"({head['tiled_images']} of {len(results['images'])} images tiled)")
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
