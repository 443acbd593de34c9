"""Time and peak memory of the cross-scale patch kNN: windowed (ours) vs a dense distance matrix.

IGNN's setting: LR embedding of side L (64 channels), son embedding of side L/2, 3×3 patches at
stride 2 (so E = 576 per patch), window 30, k = 5, graph scale 2. Inputs are random patch
embeddings of those grids. Each measurement runs in its own subprocess and prints one JSON line:

  method      "windowed" (`jaxrestore.ops.knn.windowed_knn`, default chunking) or "dense"
              (full M×N distance matrix, then top-k: the original's training path)
  mode        "window" or "whole-grid" (son grid fits in the window) for windowed_knn; "dense"
  xla_*       bytes from the compiled executable's memory_analysis(): arguments (the two
              embeddings), output, temporaries; peak_bytes = arguments + output + temporaries
  rss_bytes   the subprocess's ru_maxrss (includes the JAX runtime, ~constant)
  seconds     median wall time of --repeats warm runs (null when the dense run is skipped
              because its peak exceeds --dense-max-gb; its memory is still reported)
  mem_ratio   peak_bytes / peak_bytes of the previous (4× fewer pixels) size, same method
  work_ratio  the same ratio for output + temporaries only (what the search allocates beyond
              its two input embeddings)

Acceptance (issue 3): windowed mem_ratio ≤ 4.2 at 4× pixels; dense grows ~16×.

    python bench/knn.py                      # 64, 128, 256, 512
    python bench/knn.py --sizes 64 128 --repeats 1
"""
import argparse
import json
import resource
import statistics
import subprocess
import sys
import time

import jax
import jax.numpy as jnp
from jax import lax

from jaxrestore.ops.knn import window_starts, windowed_knn
from jaxrestore.ops.patches import patch_grid

CHANNELS, PATCH, STRIDE, WINDOW, K, SCALE = 64, 3, 2, 30, 5, 2


def dense_knn(query, database, k):
    """Dense baseline: the full (B, M, N) distance matrix, then top-k (no windows, no chunks)."""
    b, m1, m2, e = query.shape
    q = query.reshape(b, m1 * m2, e)
    d = database.reshape(b, -1, e)
    dist = (-2 * jnp.einsum("bme,bne->bmn", q, d) + jnp.sum(q ** 2, -1)[:, :, None]
            + jnp.sum(d ** 2, -1)[:, None, :])
    neg, idx = lax.top_k(-dist, k)
    return -neg.reshape(b, m1, m2, k), idx.reshape(b, m1, m2, k)


def measure(method: str, size: int, repeats: int, dense_max_bytes: float) -> dict:
    m = patch_grid(size, size, PATCH, STRIDE)
    n = patch_grid(size // SCALE, size // SCALE, PATCH, STRIDE)
    e = CHANNELS * PATCH * PATCH
    kq, kd = jax.random.split(jax.random.key(0))
    query = jax.random.normal(kq, (1, *m, e), jnp.float32)
    database = jax.random.normal(kd, (1, *n, e), jnp.float32)
    if method == "windowed":
        fn = jax.jit(lambda q, d: windowed_knn(q, d, K, WINDOW, SCALE))
    else:
        fn = jax.jit(lambda q, d: dense_knn(q, d, K))
    compiled = fn.lower(query, database).compile()
    mem = compiled.memory_analysis()
    peak = mem.argument_size_in_bytes + mem.output_size_in_bytes + mem.temp_size_in_bytes
    seconds = None
    if method == "windowed" or peak <= dense_max_bytes:
        jax.block_until_ready(compiled(query, database))
        times = []
        for _ in range(repeats):
            start = time.perf_counter()
            jax.block_until_ready(compiled(query, database))
            times.append(time.perf_counter() - start)
        seconds = statistics.median(times)
    return {
        "method": method, "lr_size": size, "query_grid": list(m), "son_grid": list(n),
        "embedding": e, "k": K, "window": WINDOW,
        "mode": ("dense" if method == "dense" else
                 "window" if window_starts(m, n, WINDOW, SCALE) else "whole-grid"),
        "xla_argument_bytes": mem.argument_size_in_bytes,
        "xla_output_bytes": mem.output_size_in_bytes,
        "xla_temp_bytes": mem.temp_size_in_bytes,
        "peak_bytes": peak,
        "rss_bytes": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024,
        "seconds": seconds,
    }


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", default=[64, 128, 256, 512],
                        help="LR sides to measure (son side = LR / 2)")
    parser.add_argument("--methods", nargs="+", choices=["windowed", "dense"],
                        default=["windowed", "dense"])
    parser.add_argument("--repeats", type=int, default=3, help="timed runs per measurement")
    parser.add_argument("--dense-max-gb", type=float, default=2.0,
                        help="run (time) the dense version only below this peak memory")
    parser.add_argument("--one", nargs=2, metavar=("METHOD", "SIZE"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.one:
        result = measure(args.one[0], int(args.one[1]), args.repeats, args.dense_max_gb * 1e9)
        print(json.dumps(result))
        return
    for method in args.methods:
        previous = previous_work = None
        for size in args.sizes:
            proc = subprocess.run(
                [sys.executable, __file__, "--one", method, str(size), "--repeats",
                 str(args.repeats), "--dense-max-gb", str(args.dense_max_gb)],
                capture_output=True, text=True)
            if proc.returncode:
                sys.exit(f"error: {method} at {size} failed:\n{proc.stderr.strip()}")
            result = json.loads(proc.stdout.strip().splitlines()[-1])
            work = result["xla_output_bytes"] + result["xla_temp_bytes"]
            result["mem_ratio"] = (round(result["peak_bytes"] / previous, 3)
                                   if previous else None)
            result["work_ratio"] = round(work / previous_work, 3) if previous_work else None
            previous, previous_work = result["peak_bytes"], work
            print(json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
