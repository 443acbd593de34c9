"""Collects a table's runs into Markdown: benchmark means from each eval's results.json, trained
parameter counts from the checkpoints, the validation curves from metrics.jsonl and the training
wall time (the progress bar's final elapsed time).

    python experiments/collect.py table_a RUNS_DIR     (after experiments/table_a.sh)
    python experiments/collect.py table_b RUNS_DIR     (after experiments/table_b.sh)

Prints the Markdown and writes it to RUNS_DIR/<table>.md.
"""
import argparse
import json
import pathlib
import re
import sys

import jax
import numpy as np
import orbax.checkpoint as ocp

from jaxrestore.checkpoints import load_for_inference

# The graph models are scored on the first 10 images of the large sets by default (their CPU
# inference is slow, see the table scripts); every other method's score on the same 10 images
# comes from its per-image rows on the full set. subset name -> (full set, image count)
SUBSETS = {"BSD100_first10": ("BSD100", 10), "BSD68_first10": ("BSD68", 10)}

# table -> (sets, [(row label, eval directory, method key in results.json)], trained runs).
# Trained runs missing from RUNS_DIR (optional ones, e.g. table_a.sh's EMBEDDING_ABLATION) and
# their rows are left out.
TABLES = {
    "table_a": (("Set5", "Set14", "BSD100", "BSD100_first10"),
                [("bicubic", "edsr_tiny_x2", "baseline"),
                 ("EDSR-tiny x2 (use_graph=False)", "edsr_tiny_x2", "model"),
                 ("IGNN-tiny x2", "ignn_tiny_x2", "model"),
                 ("IGNN-tiny x2, kNN on pixels (embedding=pixels)", "ignn_pixels_tiny_x2",
                  "model")],
                ("edsr_tiny_x2", "ignn_tiny_x2", "ignn_pixels_tiny_x2")),
    "table_b": (("Set12", "BSD68", "BSD68_first10"),
                [("noisy input", "dncnn_tiny_s25", "baseline"),
                 ("BM3D", "bm3d", "model"),
                 ("DnCNN-tiny", "dncnn_tiny_s25", "model"),
                 ("MAGN-tiny", "magn_tiny_s25", "model")],
                ("dncnn_tiny_s25", "magn_tiny_s25")),
}

def _results(runs: pathlib.Path, run: str, dataset: str) -> dict:
    return json.loads((runs / "eval" / run / dataset / "results.json").read_text())


def mean_scores(runs: pathlib.Path, run: str, dataset: str, key: str) -> dict:
    """{'psnr', 'ssim'} mean of method `key` in run's eval of `dataset`; for a subset in
    SUBSETS, taken from the full set's per-image rows when the run scored the full set.
    FileNotFoundError if the run has no such eval."""
    full, count = SUBSETS.get(dataset, (None, 0))
    if full and (runs / "eval" / run / full / "results.json").exists():
        rows = sorted(_results(runs, run, full)["images"], key=lambda r: r["name"])[:count]
        return {m: float(np.mean([r[key][m] for r in rows])) for m in ("psnr", "ssim")}
    return _results(runs, run, dataset)["mean"][key]


def parameter_count(checkpoint_dir) -> tuple:
    """(trained, frozen) parameter counts of a checkpoint directory's latest step."""
    config, variables = load_for_inference(checkpoint_dir)
    trained = sum(np.size(x) for x in jax.tree.leaves(variables.get("params", {})))
    frozen = sum(np.size(x) for name, tree in variables.items() if name != "params"
                 for x in jax.tree.leaves(tree))
    return int(trained), int(frozen)


def latest_step(checkpoint_dir) -> int:
    with ocp.CheckpointManager(pathlib.Path(checkpoint_dir).resolve()) as manager:
        return int(manager.latest_step())


def training_wall_time(log_path: pathlib.Path, step: int) -> str:
    """The elapsed time the progress bar printed at `step` (e.g. '31:05'; it includes start-up,
    compilation and the periodic validations), or '?'."""
    text = log_path.read_text(errors="replace") if log_path.exists() else ""
    found = re.findall(rf"\| *{step}/\d+ \[([0-9:]+)<", text)
    return found[-1] if found else "?"


def validation_curve(metrics_path: pathlib.Path, last_step: int) -> list:
    """[(step, val PSNR)] up to `last_step` from a run's metrics.jsonl."""
    rows = [json.loads(line) for line in metrics_path.read_text().splitlines() if line.strip()]
    return [(row["step"], row["val/psnr"]) for row in rows
            if "val/psnr" in row and row["step"] <= last_step]


def _column(dataset: str) -> str:
    if dataset in SUBSETS:
        full, count = SUBSETS[dataset]
        return f"{full} first {count}"
    return dataset


def table_markdown(table: str, runs: pathlib.Path) -> str:
    sets, rows, trained = TABLES[table]
    missing = {run for run in trained if not (runs / run / "checkpoints").is_dir()}
    trained = [run for run in trained if run not in missing]
    rows = [row for row in rows if row[1] not in missing]
    lines = ["| method | params | " + " | ".join(
                 f"{_column(s)} PSNR / SSIM" for s in sets) + " |",
             "|---|---|" + "---|" * len(sets)]
    for label, run, key in rows:
        params = "-"
        if key == "model" and run in trained:
            count, frozen = parameter_count(runs / run / "checkpoints")
            params = f"{count:,}" + (f" (+{frozen:,} frozen)" if frozen else "")
        cells = []
        for dataset in sets:
            try:
                mean = mean_scores(runs, run, dataset, key)
                cells.append(f"{mean['psnr']:.2f} / {mean['ssim']:.4f}")
            except FileNotFoundError:
                cells.append("not run")
        lines.append(f"| {label} | {params} | " + " | ".join(cells) + " |")
    lines += ["", "| run | steps | training wall time | validation PSNR (step: dB) |",
              "|---|---|---|---|"]
    for run in trained:
        step = latest_step(runs / run / "checkpoints")
        curve = validation_curve(runs / run / "metrics.jsonl", step)
        points = ", ".join(f"{s}: {psnr:.2f}" for s, psnr in curve)
        wall = training_wall_time(runs / f"{run}.log", step)
        lines.append(f"| {run} | {step} | {wall} | {points} |")
    return "\n".join(lines) + "\n"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("table", choices=sorted(TABLES))
    parser.add_argument("runs", help="the RUNS_DIR given to experiments/<table>.sh")
    args = parser.parse_args(argv)
    runs = pathlib.Path(args.runs)
    if not runs.is_dir():
        print(f"error: runs directory not found: {runs}", file=sys.stderr)
        return 2
    text = table_markdown(args.table, runs)
    (runs / f"{args.table}.md").write_text(text)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
