"""Bicubic SR baseline on the standard test sets, by the field's protocol.

For each image: HR read as 3-channel RGB, modcropped to the scale; LR = rounded MATLAB
bicubic imresize of HR by 1/s; SR = rounded MATLAB bicubic imresize of LR by s; PSNR and SSIM on
the BT.601 Y channel (not rounded) with `s` pixels cropped from every border. Prints a table and
one JSON line per (set, scale) with the mean over images.

Rounding (--rounding):
  once      float imresize, then clamp and round to uint8 once per resize (MATLAB
            im2uint8(imresize(im2double(x))), BasicSR-style pipelines). Default; this is what
            the reference numbers use: Set5 x2 33.68 dB / 0.9305, BSD100 x4 25.96 / 0.6682.
  per-pass  MATLAB's imresize on uint8 input, rounding after each 1-D pass (reproduces the
            published Set5 LR images bit for bit): Set5 x2 33.67 dB / 0.9303.

    python bench/bicubic_baseline.py --data ../shared/data
"""
import argparse
import json
import pathlib
import sys

import numpy as np
from tqdm import tqdm

from jaxrestore.data.degradations import modcrop
from jaxrestore.data.io import list_images, read_image
from jaxrestore.metrics import psnr, ssim
from jaxrestore.ops.imresize import imresize, imresize_np

REPO = pathlib.Path(__file__).resolve().parents[1]
DEFAULT_DATA = REPO.parent / "shared" / "data"


def round_to_uint8(x: np.ndarray) -> np.ndarray:
    """Clamps to [0, 255] and rounds half up (MATLAB's conversion to uint8)."""
    return np.clip(np.floor(x + 0.5), 0, 255).astype(np.uint8)


def make_resize(backend: str, rounding: str):
    """uint8 image, scale -> uint8 image, by the chosen imresize path and rounding."""
    if backend == "jax":
        def resize_any(x, scale):
            return np.asarray(imresize(x, scale))
        float_dtype = np.float32  # JAX runs without x64
    else:
        resize_any, float_dtype = imresize_np, np.float64
    if rounding == "per-pass":
        return resize_any

    def resize_once(x, scale):
        return round_to_uint8(resize_any(x.astype(float_dtype), scale))

    return resize_once


def evaluate(folder: pathlib.Path, scale: int, resize, progress: bool) -> dict:
    """Mean Y-channel PSNR/SSIM of bicubic x`scale` over the images of `folder`."""
    paths = list_images(folder)
    if not paths:
        raise SystemExit(f"error: no images in {folder}")
    psnrs, ssims = [], []
    for path in tqdm(paths, desc=f"{folder.name} x{scale}", leave=False, disable=not progress):
        hr = modcrop(read_image(path, channels=3), scale)
        sr = resize(resize(hr, 1 / scale), scale)
        psnrs.append(psnr(sr, hr, crop_border=scale, y_channel=True))
        ssims.append(ssim(sr, hr, crop_border=scale, y_channel=True))
    return {"set": folder.name, "scale": scale, "images": len(paths),
            "psnr_y": float(np.mean(psnrs)), "ssim_y": float(np.mean(ssims))}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=pathlib.Path, default=DEFAULT_DATA,
                        help=f"folder holding the test sets (default: {DEFAULT_DATA})")
    parser.add_argument("--sets", nargs="+", default=["Set5", "Set14", "BSD100"],
                        help="test sets (sub-folders of --data) (default: Set5 Set14 BSD100)")
    parser.add_argument("--scales", nargs="+", type=int, default=[2, 3, 4],
                        help="SR scales (default: 2 3 4)")
    parser.add_argument("--backend", choices=["numpy", "jax"], default="numpy",
                        help="imresize path: host NumPy float64 or JAX (default: numpy)")
    parser.add_argument("--rounding", choices=["once", "per-pass"], default="once",
                        help="uint8 rounding once per resize or after each 1-D pass (default: once)")
    parser.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    args = parser.parse_args(argv)

    for name in args.sets:
        if not (args.data / name).is_dir():
            print(f"error: {args.data / name} is not a folder (see --data)", file=sys.stderr)
            return 2
    resize = make_resize(args.backend, args.rounding)
    rows = []
    for name in args.sets:
        for scale in args.scales:
            row = evaluate(args.data / name, scale, resize, not args.no_progress)
            row.update(rounding=args.rounding, backend=args.backend)
            rows.append(row)
            print(json.dumps(row), flush=True)
    print(f"\n{'set':<8} {'scale':>5} {'images':>6} {'PSNR-Y':>8} {'SSIM-Y':>7}")
    for row in rows:
        print(f"{row['set']:<8} {'x' + str(row['scale']):>5} {row['images']:>6} "
              f"{row['psnr_y']:>8.4f} {row['ssim_y']:>7.4f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
