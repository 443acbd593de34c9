"""What bfloat16 computation costs in accuracy: the same checkpoints scored in float32 and in
bfloat16 by the protocol of record, and the full-size IGNN x2's output difference on a reference
input. One JSON line per row:

    python bench/precision.py                       # the four committed tiny checkpoints
    python bench/precision.py --data ../shared/data --reference ../shared/ignn_reference

Rows: checkpoint, set, psnr_float32, psnr_bfloat16, delta_db (bf16 - f32), max_abs_diff (of the
restored images, 0..1 scale); and for the full IGNN x2 (32 blocks, 256 features, the
original's training initialisation, random weights): max and RMS output difference on the LR
image of the reference case tiny_x2_lr48 (0..255 scale), and that RMS relative to the RMS of
the float32 output's variation about its per-channel mean (at this initialisation the output is
nearly the mean shift's constant).
"""
import argparse
import json
import pathlib

import jax
import jax.numpy as jnp
import numpy as np

from jaxrestore import configs, evaluate, tasks
from jaxrestore.inference import Restorer, load_checkpoint
from jaxrestore.models import build_model

REPO = pathlib.Path(__file__).resolve().parents[1]
ROWS = (("ignn_tiny_x2", "Set5"), ("edsr_tiny_x2", "Set5"), ("magn_tiny_s25", "Set12"),
        ("dncnn_tiny_s25", "Set12"))


def score_both(checkpoint: pathlib.Path, data: pathlib.Path) -> dict:
    config, variables = load_checkpoint(checkpoint)
    task = tasks.task_from_config(config.task).at_level()
    images = evaluate.FolderImages(data, task.channels)
    outputs, scores = {}, {}
    for dtype in ("float32", "bfloat16"):
        restorer = Restorer(config, variables, bucket=1, dtype=dtype)
        restored = []

        def restore(x):
            restored.append(restorer.restore([x])[0])
            return restored[-1]

        scores[dtype] = evaluate.evaluate(images, task, restore)["mean"]["model"]["psnr"]
        outputs[dtype] = restored
    diff = max(float(np.abs(a - b).max()) for a, b in zip(*outputs.values()))
    return {"psnr_float32": round(scores["float32"], 3),
            "psnr_bfloat16": round(scores["bfloat16"], 3),
            "delta_db": round(scores["bfloat16"] - scores["float32"], 3), "max_abs_diff": diff}


def full_ignn(reference: pathlib.Path) -> dict:
    lr = jnp.asarray(np.load(reference / "tiny_x2_lr48" / "lr.npy").transpose(1, 2, 0)[None])
    outputs = {}
    for dtype in ("float32", "bfloat16"):
        config = configs.load("ignn_x2")
        config.model.dtype = dtype
        model = build_model(config.model, config.task.scale)
        variables = jax.jit(model.init)(jax.random.key(0), lr)
        outputs[dtype] = np.asarray(jax.jit(model.apply)(variables, lr), np.float64)
    diff = outputs["bfloat16"] - outputs["float32"]
    rms = float(np.sqrt(np.mean(diff ** 2)))
    # At this initialisation the output is nearly the constant of the mean shift; what the
    # network adds is the output minus its per-channel mean, and the error is relative to it.
    variation = outputs["float32"] - outputs["float32"].mean(axis=(0, 1, 2))
    spread = float(np.sqrt(np.mean(variation ** 2)))
    return {"checkpoint": "ignn_x2 (full, random init)", "set": "tiny_x2_lr48 LR (48x48)",
            "max_abs_diff_255": float(np.abs(diff).max()), "rms_diff_255": rms,
            "rms_output_variation_255": spread, "relative_rms": rms / spread}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=str(REPO.parent / "shared" / "data"))
    parser.add_argument("--reference", default=str(REPO.parent / "shared" / "ignn_reference"))
    parser.add_argument("--pretrained", default=str(REPO / "pretrained"))
    args = parser.parse_args(argv)
    for name, dataset in ROWS:
        row = score_both(pathlib.Path(args.pretrained) / name, pathlib.Path(args.data) / dataset)
        print(json.dumps({"checkpoint": name, "set": dataset, **row}), flush=True)
    print(json.dumps(full_ignn(pathlib.Path(args.reference))), flush=True)


if __name__ == "__main__":
    main()
