"""Wall time of a tiled restore of one large image: tiles one at a time from a host loop (the
path before device batching) against `Restorer`'s device-batched tiles. One JSON line per
(model, path):

    python bench/restore.py                       # 1024x1024, IGNN-tiny x2 and MAGN-tiny
    python bench/restore.py --size 512 --models magn_tiny_denoise_gray_s25 --repeats 3

Fields: model, size (input side), path ('per_tile' | 'batched'), tile, overlap, tile_batch,
tiles, seconds (median of the warm repeats; the first, compiling, run is not counted),
first_run_seconds (that first run, compilation included), max_abs_diff (batched vs per-tile
output, the same blending plan, so float rounding only). Weights are the configs' random
initialisation: speed does not depend on them.
"""
import argparse
import json
import statistics
import time

import jax
import numpy as np

from jaxrestore import configs
from jaxrestore.inference import Restorer
from jaxrestore.config import model_signature
from jaxrestore.models import apply_unit_range, build_model
from jaxrestore.ops.tiling import plan_tiles, tiled_apply


def models(name: str, tile: int, overlap: int, tile_batch: int):
    """(jitted single-batch forward in [0, 1], batched Restorer, input channels, scale) for the
    packaged config `name`, randomly initialised."""
    config = configs.load(name)
    channels = model_signature(config).in_channels
    module = build_model(config.model, model_signature(config).scale)
    example = np.zeros((1, tile, tile, channels), np.float32)
    variables = jax.jit(module.init)(jax.random.key(0), example)
    pixel_range = config.model.pixel_range
    forward = jax.jit(lambda x: apply_unit_range(module, variables, x, pixel_range))
    batched = Restorer(config, variables, tile=tile, overlap=overlap, bucket=tile,
                       tile_batch=tile_batch)
    return forward, batched, channels, batched.scale


def timed(fn, repeats: int):
    """(first run's seconds, median of `repeats` further runs, last output)."""
    start = time.perf_counter()
    out = fn()
    first = time.perf_counter() - start
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - start)
    return first, statistics.median(times), out


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=1024, help="input side in pixels")
    parser.add_argument("--models", default="ignn_tiny_x2,magn_tiny_denoise_gray_s25",
                        help="packaged config names, comma separated")
    parser.add_argument("--tile", type=int, default=256)
    parser.add_argument("--overlap", type=int, default=32)
    parser.add_argument("--tile-batch", type=int, default=8)
    parser.add_argument("--repeats", type=int, default=2, help="warm runs per path")
    args = parser.parse_args(argv)
    for name in args.models.split(","):
        forward, batched, channels, scale = models(name, args.tile, args.overlap,
                                                   args.tile_batch)
        image = np.random.default_rng(0).random((args.size, args.size, channels), np.float32)
        tiles = len(plan_tiles(args.size, args.size, args.tile, args.overlap, scale))
        paths = {  # the same blending plan; the per-tile path waits for every tile
            "per_tile": lambda: np.clip(tiled_apply(lambda t: np.asarray(forward(t)), image[None],
                                                    args.tile, args.overlap, scale)[0], 0, 1),
            "batched": lambda: batched.restore([image])[0],
        }
        outputs = {}
        for path, run in paths.items():
            first, seconds, outputs[path] = timed(run, args.repeats)
            row = {"model": name, "size": args.size, "path": path, "tile": args.tile,
                   "overlap": args.overlap, "tile_batch": args.tile_batch if path == "batched"
                   else 1, "tiles": tiles, "seconds": round(seconds, 3),
                   "first_run_seconds": round(first, 3)}
            if path == "batched":
                row["max_abs_diff"] = float(np.abs(outputs["batched"]
                                                   - outputs["per_tile"]).max())
            print(json.dumps(row), flush=True)


if __name__ == "__main__":
    main()
