"""The evidence tables of docs/results.md: each method trained with several seeds on identical
data, steps and schedule, scored by the protocol of record (`eval.py score`), and written up as
Markdown with mean ± standard deviation over seeds, the per-seed numbers, the validation curves
and the seconds per training step.

    python experiments/tables.py table_a                  # IGNN-tiny x2 vs its graph-free twin
    python experiments/tables.py table_b                  # MAGN-tiny vs DnCNN-tiny, sigma 25
    python experiments/tables.py tasks                    # colour denoising, JPEG, demosaicing
    python experiments/tables.py table_a --stage collect  # only rewrite RUNS/table_a.md

Options: --runs DIR (default runs/<table>), --data DIR (default ../shared/data), --jobs N
(trainings and scorings at once; default 2, one per core, each with single-threaded XLA),
--stage train|score|collect|all. Everything resumes: a training continues from its newest
checkpoint, a (run, test set) already scored is not scored again, and `--stage score` scores
only the runs whose training has finished (partial tables can be collected while others
train), so the command can be stopped and rerun across days. Trainings log to RUNS/<run>.log.
"""
import argparse
import concurrent.futures
import dataclasses
import importlib.util
import json
import os
import pathlib
import statistics
import subprocess
import sys

REPO = pathlib.Path(__file__).resolve().parents[1]
KAIR_DNCNN_25 = str(REPO.parent / "shared" / "weights" / "kair_dncnn_25" / "dncnn_25.pth")
SINGLE_THREAD = "--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1"


@dataclasses.dataclass(frozen=True)
class Method:
    """One row: a packaged config, its overrides, trained once per seed as `<key>_s<seed>`;
    `baseline` names its input baseline where the methods of a table differ in task."""
    label: str
    key: str
    config: str
    overrides: tuple = ()
    seeds: tuple = (0, 1, 2)
    baseline: str = ""


@dataclasses.dataclass(frozen=True)
class Scored:
    """A row scored by a script, not trained: a classical method or released weights. The
    script takes --data, --out and --no-progress besides `extra`; `needs` is the Python package
    or the file it needs (the row is skipped with one line when it is missing)."""
    label: str
    script: str
    extra: tuple
    needs: str


@dataclasses.dataclass(frozen=True)
class Table:
    """Methods trained on `train_data` with `common` overrides, scored on `test_sets`
    ({column name: (folder under --data, extra eval.py arguments)}); `baseline` labels the
    protocol's baseline row; `classical` are rows scored by scripts (BM3D, released weights)."""
    title: str
    methods: tuple
    test_sets: dict
    baseline: str
    train_data: str
    common: tuple
    classical: tuple = ()


def _common(steps: int, lr: float, schedule: str, eval_every: int, crop: int, batch: int,
            extra=()) -> tuple:
    return (f"--config.train.steps={steps}", f"--config.train.learning_rate={lr}",
            f"--config.train.schedule={schedule}", f"--config.train.eval_every={eval_every}",
            f"--config.train.checkpoint_every={eval_every}", "--config.train.keep_checkpoints=1",
            f"--config.data.patch_size={crop}", f"--config.data.batch_size={batch}",
            "--config.data.num_workers=1", *extra)


TABLES = {
    # IGNN's claim: the cross-scale graph helps SR over the same trunk without it. The
    # original's regime: Adam 1e-4 (eps 1e-8/255, betas 0.9/0.999) held constant over our
    # budget (its first halving is at 150k), L1, HR crops of 96 (LR 48, son 24).
    "table_a": Table(
        title="IGNN-tiny x2 vs its graph-free twin (EDSR-tiny), PSNR / SSIM on Y, crop 2",
        methods=(Method("EDSR-tiny x2 (use_graph=False)", "edsr_tiny_x2", "ignn_tiny_x2",
                        ("--config.model.use_graph=False",)),
                 Method("IGNN-tiny x2", "ignn_tiny_x2", "ignn_tiny_x2")),
        test_sets={"Set5": ("Set5", ()), "Set14": ("Set14", ()), "BSD100": ("BSD100", ())},
        baseline="bicubic",
        train_data="T91,BSD200",
        common=_common(steps=int(os.environ.get("STEPS", 3000)), lr=1e-4, schedule="constant",
                       eval_every=500, crop=96, batch=8)),
    # MAGN's claim: its multi-level graph denoises better than a plain CNN of the same size.
    "table_b": Table(
        title="MAGN-tiny vs DnCNN-tiny, grey Gaussian denoising sigma 25, PSNR / SSIM",
        methods=(Method("DnCNN-tiny", "dncnn_tiny_s25", "dncnn_tiny_denoise_gray_s25"),
                 Method("MAGN-tiny", "magn_tiny_s25", "magn_tiny_denoise_gray_s25"),
                 Method("MAGN-tiny, concat fusion (no cross-level correction)",
                        "magn_tiny_concat_s25", "magn_tiny_denoise_gray_s25",
                        ("--config.model.fusion=concat",), seeds=(0,))),
        test_sets={"Set12": ("Set12", ()), "BSD68": ("BSD68", ())},
        baseline="noisy input",
        train_data="T91,BSD200",
        common=_common(steps=int(os.environ.get("STEPS", 4000)), lr=1e-3,
                       schedule="cosine_restarts", eval_every=500, crop=48, batch=8,
                       extra=(f"--config.train.restart_period={os.environ.get('STEPS', 4000)}",)),
        classical=(Scored("BM3D", "experiments/bm3d_baseline.py", ("--sigma", "25"), "bm3d"),
                   Scored("DnCNN-S released (KAIR)",
                          "experiments/released_weights.py", ("--weights", KAIR_DNCNN_25),
                          KAIR_DNCNN_25))),
    # One measured row for every other task (MAGN-tiny, one seed).
    "tasks": Table(
        title="MAGN-tiny on the other tasks, PSNR / SSIM (JPEG: grey; PSNR-B in the json)",
        methods=(Method("MAGN-tiny colour denoising sigma 25", "magn_tiny_color_s25",
                        "magn_tiny_denoise_color_s25", seeds=(0,),
                        baseline="noisy input, colour sigma 25"),
                 Method("MAGN-tiny JPEG q10 (grey)", "magn_tiny_jpeg_q10", "magn_tiny_jpeg_q10",
                        seeds=(0,), baseline="JPEG input, q10"),
                 Method("MAGN-tiny demosaicing", "magn_tiny_demosaic", "magn_tiny_demosaic",
                        seeds=(0,), baseline="bilinear demosaic")),
        test_sets={"McMaster": ("McMaster", ()), "Classic5": ("Classic5", ())},
        baseline="input baseline",
        train_data="T91,BSD200",
        common=_common(steps=int(os.environ.get("STEPS", 2000)), lr=1e-3,
                       schedule="cosine_restarts", eval_every=500, crop=48, batch=8,
                       extra=(f"--config.train.restart_period={os.environ.get('STEPS', 2000)}",))),
}
# which test sets each method of `tasks` is scored on (the others do not fit its task)
TASK_SETS = {"magn_tiny_color_s25": ("McMaster",), "magn_tiny_jpeg_q10": ("Classic5",),
             "magn_tiny_demosaic": ("McMaster",)}


def runs_of(table: Table) -> list[tuple[Method, str]]:
    return [(method, f"{method.key}_s{seed}") for method in table.methods for seed in method.seeds]


def _environment() -> dict:
    return {**os.environ, "XLA_FLAGS": SINGLE_THREAD, "PYTHONUNBUFFERED": "1"}


def train_command(table: Table, method: Method, run: str, runs: pathlib.Path, data: str) -> list:
    seed = run.rsplit("_s", 1)[1]
    paths = ",".join(f"{data}/{name}" for name in table.train_data.split(","))
    return [sys.executable, str(REPO / "train.py"), "--config", method.config,
            "--workdir", str(runs / run), "--config.data.source=folder",
            f"--config.data.train_path={paths}", f"--config.train.seed={seed}",
            *table.common, *method.overrides]


def total_steps(table: Table) -> int:
    return int(next(arg for arg in table.common if arg.startswith("--config.train.steps="))
               .split("=")[1])


def finished(table: Table, runs: pathlib.Path, run: str) -> bool:
    """Whether `run` has saved its last step (a training still under way is not scored)."""
    return (runs / run / "checkpoints" / str(total_steps(table))).is_dir()


def score_commands(table: Table, runs: pathlib.Path, data: str) -> list:
    """[(results folder, command)] of every scoring of `table` not done yet, for the runs
    whose training has finished."""
    todo = []
    for method, run in runs_of(table):
        if not finished(table, runs, run):
            continue
        for column, (folder, extra) in table.test_sets.items():
            if column not in TASK_SETS.get(method.key, table.test_sets):
                continue
            out = runs / "eval" / run / column
            todo.append((out, [sys.executable, str(REPO / "eval.py"), "score", "--checkpoint",
                               str(runs / run), "--data", f"{data}/{folder}", "--out", str(out),
                               "--figures", "0", "--no-progress", "--overwrite", *extra]))
    for row in table.classical:
        if (pathlib.Path(row.needs).exists() if os.sep in row.needs
                else importlib.util.find_spec(row.needs) is not None):
            todo += [(runs / "eval" / row.label / column,
                      [sys.executable, str(REPO / row.script), "--data", f"{data}/{folder}",
                       "--out", str(runs / "eval" / row.label / column), "--no-progress",
                       *row.extra]) for column, (folder, _) in table.test_sets.items()]
        else:
            print(f"{row.needs} is missing (a package: pip install -c constraints.txt "
                  f"{row.needs}): the row {row.label!r} is skipped", file=sys.stderr)
    return [(out, command) for out, command in todo if not (out / "results.json").exists()]


def _run_all(commands, jobs: int, log_of) -> None:
    """Runs (key, command) pairs, `jobs` at a time; each writes its output to log_of(key)."""
    def run(key, command):
        with open(log_of(key), "a") as log:
            code = subprocess.call(command, stdout=log, stderr=subprocess.STDOUT,
                                   env=_environment(), cwd=REPO)
        print(f"{'done' if code == 0 else f'FAILED ({code})'}: {key}", flush=True)
        return code

    with concurrent.futures.ThreadPoolExecutor(jobs) as pool:
        codes = list(pool.map(lambda item: run(*item), commands))
    if any(codes):
        raise SystemExit(f"{sum(c != 0 for c in codes)} command(s) failed; see the logs")


# -- collecting --------------------------------------------------------------------------------

def _results(runs: pathlib.Path, run: str, column: str) -> dict | None:
    path = runs / "eval" / run / column / "results.json"
    return json.loads(path.read_text()) if path.exists() else None


def _mean_std(values: list, digits: int) -> str:
    if not values:
        return "not run"
    if len(values) == 1:
        return f"{values[0]:.{digits}f}"
    return f"{statistics.mean(values):.{digits}f} ± {statistics.stdev(values):.{digits}f}"


def _metrics(runs: pathlib.Path, run: str) -> list[dict]:
    path = runs / run / "metrics.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def seconds_per_step(rows: list[dict]) -> float | None:
    """Median wall seconds per step over the logged windows after the first (compilation)."""
    times = [row["train/seconds_per_step"] for row in rows if "train/seconds_per_step" in row]
    return statistics.median(times[1:]) if len(times) > 1 else None


def _row(label: str, seeds: str, scores: dict, seconds: str) -> str:
    """A table row: PSNR cells, then SSIM cells ({column: [per-seed (psnr, ssim)]})."""
    return (f"| {label} | {seeds} | "
            + " | ".join(_mean_std([p for p, _ in v], 2) for v in scores.values()) + " | "
            + " | ".join(_mean_std([q for _, q in v], 4) for v in scores.values())
            + f" | {seconds} |")


def collect(table: Table, runs: pathlib.Path) -> str:
    """The Markdown of `table` from what is in `runs` (rows not run yet say so)."""
    columns = list(table.test_sets)

    def scores(run: str, key: str) -> dict:
        found = {c: _results(runs, run, c) for c in columns}
        return {c: [(r["mean"][key]["psnr"], r["mean"][key]["ssim"])] if r else []
                for c, r in found.items()}

    lines = [f"### {table.title}", "",
             "| method | seeds | " + " | ".join(f"{c} PSNR" for c in columns) + " | "
             + " | ".join(f"{c} SSIM" for c in columns) + " | s / step |",
             "|---|---|" + "---|" * (2 * len(columns) + 1)]
    # one input-baseline row per task: a method's own `baseline`, else the table's, each column
    # from whichever of its runs has been scored
    baselines = {}
    for method, run in runs_of(table):
        found = baselines.setdefault(method.baseline or table.baseline, {c: [] for c in columns})
        for c, value in scores(run, "baseline").items():
            found[c] = found[c] or value
    lines += [_row(label, "-", b, "-") for label, b in baselines.items()]
    for row in table.classical:
        lines.append(_row(row.label, "-", scores(row.label, "model"), "-"))
    per_seed = ["", "Per seed: PSNR on each set, steps trained, last validation PSNR on the "
                "held-out photos, median seconds per step (a run still training is not scored):",
                "", "| run | " + " | ".join(columns) + " | steps | validation | s / step |",
                "|---|" + "---|" * (len(columns) + 3)]
    curves = ["", "Validation PSNR on the held-out photos (step: dB):", ""]
    for method in table.methods:
        combined, speeds, scored = {c: [] for c in columns}, [], 0
        for seed in method.seeds:
            run = f"{method.key}_s{seed}"
            mine = scores(run, "model")
            for c in columns:
                combined[c] += mine[c]
            scored += any(mine.values())
            rows = _metrics(runs, run)
            trained = max((row["step"] for row in rows if "train/loss" in row), default=0)
            speed = seconds_per_step(rows)
            speeds += [speed] if speed else []
            val = [(row["step"], row["val/psnr"]) for row in rows if "val/psnr" in row]
            per_seed.append(f"| {run} | " + " | ".join(
                f"{v[0][0]:.2f}" if v else "-" for v in mine.values())
                + f" | {trained} of {total_steps(table)}"
                + f" | {f'{val[-1][1]:.2f}' if val else '-'} | "
                + f"{f'{speed:.3f}' if speed else '-'} |")
            if val:
                curves.append(f"- {run}: " + ", ".join(f"{st}: {p:.2f}" for st, p in val))
        seeds = str(scored) + ("" if scored == len(method.seeds) else f" of {len(method.seeds)}")
        lines.append(_row(method.label, seeds, combined,
                          f"{statistics.median(speeds):.3f}" if speeds else "-"))
    return "\n".join(lines + per_seed + curves) + "\n"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("table", choices=sorted(TABLES))
    parser.add_argument("--runs", help="runs directory (default runs/<table>)")
    parser.add_argument("--data", default=str(REPO.parent / "shared" / "data"))
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--stage", choices=("train", "score", "collect", "all"), default="all")
    args = parser.parse_args(argv)
    table = TABLES[args.table]
    runs = pathlib.Path(args.runs or REPO / "runs" / args.table).resolve()
    runs.mkdir(parents=True, exist_ok=True)
    data = str(pathlib.Path(args.data).resolve())
    if args.stage in ("train", "all"):
        _run_all([(run, train_command(table, method, run, runs, data))
                  for method, run in runs_of(table)], args.jobs, lambda run: runs / f"{run}.log")
    if args.stage in ("score", "all"):
        todo = score_commands(table, runs, data)
        _run_all([(str(out.relative_to(runs)), command) for out, command in todo], args.jobs,
                 lambda key: runs / "eval.log")
    text = collect(table, runs)
    (runs / f"{args.table}.md").write_text(text)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
