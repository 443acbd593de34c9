"""Cost and peak memory of `eval restore` on large photos, for every committed model. One JSON
line per (model, megapixels, mode), each case measured in its own fresh process:

    python bench/restore.py                                  # 1, 4, 16 MP, all four models
    python bench/restore.py --megapixels 1,4 --models dncnn_tiny_s25 --tile-batch 8

A case restores a random square RGB photo of the given megapixels (side 1000·√MP) from a PNG
file into a PNG file as `eval restore` does (`jaxrestore.restore_files.restore_file`, the
command's defaults: tiles of 256 with 32 overlap, padding to multiples of 32, the default tile
batch), after a warm-up restore that compiles the same shapes. Mode 'whole' (1 MP only) is the
reference: the image restored in one piece (`--tile 0`).

Fields: model, mode ('tiled' | 'whole'), megapixels, side, tile_batch, tiles, seconds (the
model's restore of the warm run), seconds_per_megapixel, file_seconds (read + restore + write
of that run), peak_rss_bytes (the case's process, from wait4), load_before and load_after
(1-minute load average of the machine around the case). The committed weights are used, so the
speed is that of the real models.
"""
import argparse
import json
import math
import os
import pathlib
import subprocess
import sys
import tempfile
import time

MODELS = ("dncnn_tiny_s25", "magn_tiny_s25", "ignn_tiny_x2", "edsr_tiny_x2")
PRETRAINED = pathlib.Path(__file__).resolve().parent.parent / "pretrained"


def case(model: str, megapixels: float, mode: str, tile_batch: int | None) -> dict:
    """Runs one case in this process (the child side); returns its fields but peak memory."""
    import numpy as np

    from jaxrestore.data import io
    from jaxrestore.inference import Restorer
    from jaxrestore.ops.tiling import plan_tiles
    from jaxrestore.restore_files import restore_file

    tile = 256 if mode == "tiled" else None
    restorer = Restorer.from_checkpoint(PRETRAINED / model, tile=tile, overlap=32, bucket=32,
                                        tile_batch=tile_batch)
    side = round(1000 * math.sqrt(megapixels))
    image = np.random.default_rng(0).integers(0, 256, (side, side, 3), np.uint8)
    restorer.restore([image[:256, :256] if mode == "tiled" else image])  # compiles
    restore, spent = restorer.restore, []

    def timed_restore(*args, **kwargs):
        start = time.perf_counter()
        result = restore(*args, **kwargs)
        spent.append(time.perf_counter() - start)
        return result

    restorer.restore = timed_restore
    with tempfile.TemporaryDirectory() as folder:
        source = pathlib.Path(folder) / "photo.png"
        io.write_image(source, image)
        del image
        start = time.perf_counter()
        restore_file(restorer, source, pathlib.Path(folder) / "restored.png")
        file_seconds = time.perf_counter() - start
    tiles = len(plan_tiles(side, side, 256, 32, restorer.scale)) if mode == "tiled" else 1
    return {"model": model, "mode": mode, "megapixels": megapixels, "side": side,
            "tile_batch": restorer.tile_batch, "tiles": tiles, "seconds": round(spent[0], 2),
            "seconds_per_megapixel": round(spent[0] / (side * side / 1e6), 2),
            "file_seconds": round(file_seconds, 2)}


def measure(model: str, megapixels: float, mode: str, tile_batch: int | None) -> dict:
    """One case in a fresh process: its JSON fields plus its peak resident memory and the
    load average around it."""
    command = [sys.executable, __file__, "--child", f"{model}:{megapixels}:{mode}"]
    if tile_batch is not None:
        command += ["--tile-batch", str(tile_batch)]
    load_before = os.getloadavg()[0]
    child = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
    output = child.stdout.read()
    _, status, usage = os.wait4(child.pid, 0)
    child.returncode = os.waitstatus_to_exitcode(status)
    if child.returncode != 0:
        return {"model": model, "mode": mode, "megapixels": megapixels,
                "error": f"exit status {child.returncode}"}
    return {**json.loads(output.strip().splitlines()[-1]),
            "peak_rss_bytes": usage.ru_maxrss * 1024,  # kilobytes on Linux
            "load_before": round(load_before, 2), "load_after": round(os.getloadavg()[0], 2)}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", default=",".join(MODELS),
                        help="committed checkpoints under pretrained/, comma separated")
    parser.add_argument("--megapixels", default="1,4,16", help="input sizes, comma separated")
    parser.add_argument("--tile-batch", type=int, help="tiles per call (default: the Restorer's)")
    parser.add_argument("--no-whole", action="store_true", help="skip the whole 1 MP reference")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        model, megapixels, mode = args.child.split(":")
        print(json.dumps(case(model, float(megapixels), mode, args.tile_batch)), flush=True)
        return
    for model in args.models.split(","):
        modes = [] if args.no_whole else [(1.0, "whole")]
        modes += [(float(mp), "tiled") for mp in args.megapixels.split(",")]
        for megapixels, mode in modes:
            print(json.dumps(measure(model, megapixels, mode, args.tile_batch)), flush=True)


if __name__ == "__main__":
    main()
