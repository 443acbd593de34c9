"""Released weights through the protocol of record: convert a weights file (`jaxrestore
convert`, architecture detected, into a temporary folder) and score it (`eval.py score`).

    python experiments/released_weights.py --weights ../shared/weights/kair_dncnn_25/dncnn_25.pth \
        --data ../shared/data/Set12 --out DIR

Writes results.json / results.csv in eval.py's layout (method 'model' = the released network).
"""
import argparse
import sys
import tempfile

from jaxrestore.cli import convert, eval as eval_cli


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--weights", required=True, help="weights file (.pth, .safetensors)")
    parser.add_argument("--data", required=True, help="folder of clean images")
    parser.add_argument("--out", required=True, help="folder for results.json / results.csv")
    parser.add_argument("--no-progress", action="store_true")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as folder:
        status = convert.main([args.weights, f"{folder}/checkpoint"])
        if status:
            return status
        return eval_cli.main(["score", "--checkpoint", f"{folder}/checkpoint", "--data",
                              args.data, "--out", args.out, "--figures", "0", "--overwrite"]
                             + ["--no-progress"] * args.no_progress, prog="eval.py")


if __name__ == "__main__":
    sys.exit(main())
