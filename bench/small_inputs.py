"""Why images below `jaxrestore.inference.MIN_SIDE` are refused: crops of n x n pixels cut out of
a photo and restored alone, against the same pixels of the whole photo's restoration (the
model with context). One JSON line per committed model:

    python bench/small_inputs.py        # needs ../shared/data (Set5, Set12)

Fields: model, photo, baseline_vs_model (mean absolute difference on the 0..255 scale between
the task's baseline, bicubic for SR or the input for denoising, and the whole restoration),
crops ({n: mean absolute difference of the n x n crops' restorations, three crops each}).
Crops are restored with MIN_SIDE lowered to 1 for the measurement.
"""
import json
import pathlib

import numpy as np

from jaxrestore import inference
from jaxrestore.data import io
from jaxrestore.ops.imresize import imresize_np

ROOT = pathlib.Path(__file__).resolve().parent.parent
CASES = (("ignn_tiny_x2", "Set5/baby.png"), ("edsr_tiny_x2", "Set5/baby.png"),
         ("dncnn_tiny_s25", "Set12/04.png"), ("magn_tiny_s25", "Set12/04.png"))


def main():
    inference.MIN_SIDE = 1
    for name, photo in CASES:
        restorer = inference.Restorer.from_checkpoint(ROOT / "pretrained" / name, tile=256,
                                                      bucket=32)
        image = io.read_image(ROOT.parent / "shared" / "data" / photo)[:160, :160]
        s = restorer.scale
        whole = restorer.restore([image])[0] * 255
        crops = {}
        for n in (1, 2, 3, 4, 6, 8, 12, 16, 24, 32):
            differences = []
            for y0, x0 in ((40, 40), (80, 60), (100, 100)):
                out = restorer.restore([image[y0:y0 + n, x0:x0 + n]])[0] * 255
                differences.append(np.abs(out - whole[y0 * s:(y0 + n) * s,
                                                       x0 * s:(x0 + n) * s]).mean())
            crops[n] = round(float(np.mean(differences)), 1)
        baseline = imresize_np(image.astype(np.float64), s) if s > 1 else image
        print(json.dumps({"model": name, "photo": photo,
                          "baseline_vs_model": round(float(np.abs(baseline - whole).mean()), 1),
                          "crops": crops}), flush=True)


if __name__ == "__main__":
    main()
