"""BM3D on the exact noisy images `eval.py score` builds (grey, sigma, seed-0 noise), scored the
same way; writes results.json / results.csv in eval.py's layout (method 'model' = BM3D).

    python experiments/bm3d_baseline.py --data ../shared/data/Set12 --sigma 25 --out DIR

Needs the optional PyPI package `bm3d` (measured with bm3d==4.0.3). BM3D is given the true
noise level (sigma_psd = sigma/255) and its default profile ('np', all stages).
"""
import argparse
import sys
import time

import numpy as np

from jaxrestore import evaluate, reports, tasks
from jaxrestore.errors import UserError


def bm3d_denoise(noisy: np.ndarray, sigma: float) -> np.ndarray:
    """(H, W, 1) float noisy image in [0, 1] (unclipped) -> (H, W, 1) float BM3D estimate."""
    import bm3d  # optional dependency, imported only when used

    return np.asarray(bm3d.bm3d(noisy[..., 0], sigma_psd=sigma / 255.0),
                      np.float32)[..., None]


def run(data, sigma: float, out_dir=None, progress: bool = True) -> dict:
    """Scores BM3D and the noisy input on every grey image under `data` with
    `jaxrestore.evaluate.evaluate` (methods 'baseline' = noisy input, 'model' = BM3D)."""
    task = tasks.Denoise(channels=1, sigma=float(sigma))
    start = time.perf_counter()

    def report(name, degraded, restored, row):
        if progress:
            print(f"{name}: BM3D {row['model']['psnr']:.2f} dB "
                  f"({time.perf_counter() - start:.1f} s so far)", file=sys.stderr)

    results = evaluate.evaluate(evaluate.FolderImages(data, 1), task,
                                lambda x: bm3d_denoise(x, sigma), on_image=report)
    results = {"protocol": reports.header(
        task, data, inference="BM3D (bm3d.bm3d, sigma_psd = sigma/255, profile 'np')"),
        **results}
    if out_dir is not None:
        reports.write_results(results, out_dir)
    return results


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", required=True, help="folder of clean images (read as grey)")
    parser.add_argument("--sigma", type=float, default=25.0, help="noise level on 0-255")
    parser.add_argument("--out", help="write results.json and results.csv here")
    parser.add_argument("--no-progress", action="store_true", help="no per-image lines")
    args = parser.parse_args(argv)
    try:
        import bm3d  # noqa: F401
    except ImportError:
        print("error: BM3D needs the optional package: pip install bm3d==4.0.3", file=sys.stderr)
        return 2
    try:
        results = run(args.data, args.sigma, args.out, progress=not args.no_progress)
    except UserError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    print(reports.format_table(results, model_name="BM3D"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
