"""BM3D on the exact noisy images `eval.py score` builds (grey, sigma, seed-0 noise), scored the
same way; writes results.json / results.csv in eval.py's layout (method 'model' = BM3D).

    python experiments/bm3d_baseline.py --data ../shared/data/Set12 --sigma 25 --out DIR

Needs the optional PyPI package `bm3d` (measured with bm3d==4.0.3). BM3D is given the true
noise level (sigma_psd = sigma/255) and its default profile ('np', all stages).
"""
import argparse
import pathlib
import sys
import time

import numpy as np

from jaxrestore import evaluate
from jaxrestore.data import io


def bm3d_denoise(noisy: np.ndarray, sigma: float) -> np.ndarray:
    """(H, W, 1) float noisy image in [0, 1] (unclipped) -> (H, W, 1) float BM3D estimate."""
    import bm3d  # optional dependency, imported only when used

    return np.asarray(bm3d.bm3d(noisy[..., 0], sigma_psd=sigma / 255.0),
                      np.float32)[..., None]


def run(data, sigma: float, out_dir=None, progress: bool = True) -> dict:
    """Scores BM3D and the noisy input on every grey image under `data`; returns the results
    dict of `jaxrestore.evaluate.evaluate` (methods 'baseline' = noisy input, 'model' = BM3D)."""
    protocol = evaluate.Protocol(task="denoise", channels=1, sigma=float(sigma))
    paths = io.list_images(data)
    if not paths:
        raise evaluate.InputError(f"no images found in {data}")
    rows = []
    for path in paths:
        path = pathlib.Path(path)
        example = evaluate.degrade(io.read_image(path, 1), protocol)
        start = time.perf_counter()
        restored = bm3d_denoise(example.input, sigma)
        seconds = time.perf_counter() - start
        rows.append({"name": path.stem, "size": list(example.target.shape[:2]), "tiled": False,
                     "baseline": evaluate.score_image(example.baseline, example.target, protocol),
                     "model": evaluate.score_image(restored, example.target, protocol),
                     "seconds": seconds})
        if progress:
            print(f"{path.stem}: BM3D {rows[-1]['model']['psnr']:.2f} dB ({seconds:.1f} s)",
                  file=sys.stderr)
    results = {
        "protocol": {"task": "denoise", "channels": 1, "sigma": float(sigma),
                     "description": protocol.describe(), "baseline": protocol.baseline,
                     "data": str(data), "checkpoint": None,
                     "inference": "BM3D (bm3d.bm3d, sigma_psd = sigma/255, profile 'np')",
                     "tiled_images": 0},
        "images": rows,
        "mean": {key: evaluate.mean_scores([row[key] for row in rows]) for key in ("baseline", "model")},
    }
    if out_dir is not None:
        pathlib.Path(out_dir).mkdir(parents=True, exist_ok=True)
        evaluate.write_results(results, out_dir)
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
    except (evaluate.InputError, io.ImageReadError, FileNotFoundError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    print(evaluate.format_table(results, model_name="BM3D"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
