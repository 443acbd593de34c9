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

from jaxrestore.checkpoints import load_for_inference

# table -> (sets, [(row label, eval directory, method key in results.json)], trained runs)
TABLES = {
    "table_a": (("Set5", "Set14", "BSD100"),
                [("bicubic", "edsr_tiny_x2", "baseline"),
                 ("EDSR-tiny x2 (use_graph=False)", "edsr_tiny_x2", "model"),
                 ("IGNN-tiny x2", "ignn_tiny_x2", "model")],
                ("edsr_tiny_x2", "ignn_tiny_x2")),
    "table_b": (("Set12", "BSD68"),
                [("noisy input", "dncnn_tiny_s25", "baseline"),
                 ("BM3D", "bm3d", "model"),
                 ("DnCNN-tiny", "dncnn_tiny_s25", "model"),
                 ("MAGN-tiny", "magn_tiny_s25", "model")],
                ("dncnn_tiny_s25", "magn_tiny_s25")),
}

def _results(runs: pathlib.Path, run: str, dataset: str) -> dict:
    return json.loads((runs / "eval" / run / dataset / "results.json").read_text())


def parameter_count(checkpoint_dir) -> tuple:
    """(trained, frozen) parameter counts of a checkpoint directory's latest step."""
    config, variables = load_for_inference(checkpoint_dir)
    trained = sum(np.size(x) for x in jax.tree.leaves(variables.get("params", {})))
    frozen = sum(np.size(x) for name, tree in variables.items() if name != "params"
                 for x in jax.tree.leaves(tree))
    return int(trained), int(frozen)


def training_wall_time(log_path: pathlib.Path) -> str:
    """The last elapsed time the progress bar printed (e.g. '31:05'), or '?'."""
    text = log_path.read_text(errors="replace") if log_path.exists() else ""
    found = re.findall(r"\| *\d+/\d+ \[([0-9:]+)<", text)
    return found[-1] if found else "?"


def validation_curve(metrics_path: pathlib.Path) -> list:
    """[(step, val PSNR)] from a run's metrics.jsonl."""
    rows = [json.loads(line) for line in metrics_path.read_text().splitlines() if line.strip()]
    return [(row["step"], row["val/psnr"]) for row in rows if "val/psnr" in row]


def table_markdown(table: str, runs: pathlib.Path) -> str:
    sets, rows, trained = TABLES[table]
    lines = ["| method | params | " + " | ".join(f"{s} PSNR / SSIM" for s in sets) + " |",
             "|---|---|" + "---|" * len(sets)]
    for label, run, key in rows:
        params = "-"
        if key == "model" and run in trained:
            count, frozen = parameter_count(runs / run / "checkpoints")
            params = f"{count:,}" + (f" (+{frozen:,} frozen)" if frozen else "")
        cells = []
        for dataset in sets:
            try:
                mean = _results(runs, run, dataset)["mean"][key]
                cells.append(f"{mean['psnr']:.2f} / {mean['ssim']:.4f}")
            except FileNotFoundError:
                cells.append("not run")
        lines.append(f"| {label} | {params} | " + " | ".join(cells) + " |")
    lines += ["", "| run | training wall time | validation PSNR (step: dB) |", "|---|---|---|"]
    for run in trained:
        curve = validation_curve(runs / run / "metrics.jsonl")
        points = ", ".join(f"{step}: {psnr:.2f}" for step, psnr in curve)
        lines.append(f"| {run} | {training_wall_time(runs / f'{run}.log')} | {points} |")
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
